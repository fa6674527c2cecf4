"""What the poster tests share: campaign and participant rows made through the models (the
referral service is built in parallel), and a loopback image server whose answers can be
good, too large, not an image, slow or a redirect."""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from siyu.referrals.posters.render import qr_image
from siyu.store.models import Contact, ContactAttribute, ReferralCampaign, ReferralParticipant

#: What the contact way's QR code served by the loopback server encodes.
CONTACT_WAY = "https://work.weixin.qq.com/ca/cawcde1234567890"


def png(colour: str = "#FF0000", size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def add_campaign(
    session: Session, key: str = "spring", poster: dict[str, Any] | None = None, **kw: Any
) -> int:
    settings: dict[str, Any] = {"landing_url": "https://shop.example.cn/invite"}
    if poster is not None:
        settings["poster"] = poster
    campaign = ReferralCampaign(
        key=key, name=kw.pop("name", "春季老带新"), kind="first_order", settings=settings, **kw
    )
    session.add(campaign)
    session.flush()
    return campaign.id


def add_participant(
    session: Session,
    campaign_id: int,
    code: str,
    nickname: str | None = "张小花",
    avatar: str | None = None,
    qr_url: str | None = None,
) -> int:
    contact = Contact()
    session.add(contact)
    session.flush()
    for name, value in (("nickname", nickname), ("avatar", avatar)):
        if value is not None:
            session.add(ContactAttribute(contact_id=contact.id, name=name, value=value))
    session.add(ReferralParticipant(campaign_id=campaign_id, contact_id=contact.id, code=code, qr_url=qr_url))
    session.flush()
    return contact.id


@dataclass
class ImageServer:
    url: str
    hits: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def image_server() -> Iterator[ImageServer]:
    """``/avatar.png`` a blue square, ``/big.png`` 3 MB, ``/page.html`` HTML, ``/slow.png`` an
    image only after the test is over, ``/moved.png`` a redirect to ``/avatar.png``,
    ``/away.png`` a redirect to a host not allowed, ``/qr.png`` the contact way's QR code."""
    state = ImageServer(url="")
    answers = {
        "/avatar.png": ("image/png", png("#0000FF")),
        "/big.png": ("image/png", png("#00FF00") + b"\0" * (3 * 1024 * 1024)),
        "/page.html": ("image/png", b"<html><body>not an image</body></html>"),
        "/qr.png": ("image/png", _qr_png(CONTACT_WAY)),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits[self.path] += 1
            if self.path == "/slow.png":
                state.release.wait(10)  # answers after the fetch's timeout: the test ends it
                kind, body = "image/png", png()
            elif self.path in ("/moved.png", "/away.png"):
                target = "/avatar.png" if self.path == "/moved.png" else "http://example.invalid/a.png"
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            elif self.path in answers:
                kind, body = answers[self.path]
            else:
                self.send_error(404)
                return
            try:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up (too large, too slow)
                pass

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        yield state
    finally:
        state.release.set()
        srv.shutdown()
        srv.server_close()


def _qr_png(text: str) -> bytes:
    out = io.BytesIO()
    qr_image(text, 300).convert("RGB").save(out, format="PNG")
    return out.getvalue()
