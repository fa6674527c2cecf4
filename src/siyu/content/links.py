"""Tracked short links (``PUBLIC_URL/l/CODE``): made while a message renders, counted when
clicked.

A code is derived from (message key, URL), not drawn at random, so a journey step that runs
again after a crash renders the very same links, and writing them again changes nothing
(insert-ignore on ``code``). The derivation is an HMAC keyed from the deployment's secret key:
message keys are guessable (``journey:contact:enrolment:step``), and a code anyone could compute
would let them forge clicks — and the journeys those clicks trigger — for other customers.

A click increments the counter, marks the outbox message clicked and records a
``link.clicked`` event of the contact, whose message id includes the click number: every click
is an event, while a replayed write of the same click is not a second one.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, literal, update
from sqlalchemy.orm import Session

from siyu.profiles.pii import Keyring
from siyu.store.changes import emit_events
from siyu.store.dialect import driver_insert_ignore, storage_time
from siyu.store.models import OutboxMessage, ShortLink, utcnow

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CODE_LENGTH = 10  # 62^10 ≈ 8.4e17 codes: collisions need ~10^9 links before they are likely
CLICK_EVENT = "link.clicked"
_COLUMNS = ("code", "url", "contact_id", "outbox_key", "journey_id", "step", "clicks", "created_at")
_UNKEYED = b"siyu-short-link"


def link_secret(keyring: Keyring) -> bytes:
    """The HMAC key for link codes, derived from the deployment's PII key (through its blind
    index, so the key itself never leaves the keyring)."""
    return bytes.fromhex(keyring.blind_index("short_link", "code"))


def link_code(message_key: str, url: str, secret: bytes = b"") -> str:
    """The deterministic code of ``url`` in the message ``message_key`` (base62, 10 chars)."""
    digest = hmac.new(secret or _UNKEYED, f"{message_key}\n{url}".encode(), hashlib.sha256).digest()
    n = int.from_bytes(digest[:8], "big") % len(ALPHABET) ** CODE_LENGTH
    chars = []
    for _ in range(CODE_LENGTH):
        n, r = divmod(n, len(ALPHABET))
        chars.append(ALPHABET[r])
    return "".join(reversed(chars))


def is_code(code: str) -> bool:
    return 1 <= len(code) <= 16 and all(c in ALPHABET for c in code)


@dataclass
class LinkMaker:
    """Collects the short links of one message while it renders; :func:`flush_links` writes
    them. ``contact_id`` None: a link not sent to one person (a moments post) — its clicks are
    counted but are no one's event."""

    public_url: str
    message_key: str
    contact_id: int | None = None
    journey_id: int | None = None
    step: str | None = None
    secret: bytes = b""
    made: dict[str, str] = field(default_factory=dict)  # code → url

    def track(self, url: str) -> str:
        code = link_code(self.message_key, url, self.secret)
        self.made[code] = url
        return f"{self.public_url.rstrip('/')}/l/{code}"

    def rows(self) -> Iterable[tuple[str, str, int | None, str, int | None, str | None]]:
        for code, url in self.made.items():
            yield code, url, self.contact_id, self.message_key, self.journey_id, self.step

    def flush(self, session: Session) -> int:
        return flush_links(session, [self])


def flush_links(session: Session, makers: Iterable[LinkMaker]) -> int:
    """Insert the links of many messages in one statement; existing codes are left alone (a
    re-rendered message writes nothing new). Returns how many rows were new."""
    now = storage_time(session.get_bind().dialect.name)(utcnow())
    rows = sorted({row[0]: (*row, 0, now) for m in makers for row in m.rows()}.values())
    return driver_insert_ignore(session, "short_links", _COLUMNS, rows, "code")


class ShortLinkService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def click(self, code: str, user_agent: str | None = None, ip: str | None = None) -> str | None:
        """Count a click on ``code`` and return where it leads, or None for an unknown code.

        ``ip`` is accepted for the interface's sake but not stored: a click's IP address is
        personal information that no analysis here needs (PIPL: collect the minimum)."""
        if not is_code(code):
            return None
        now = utcnow()
        stmt = (
            update(ShortLink)
            .where(ShortLink.code == code)
            .values(
                clicks=ShortLink.clicks + 1,
                first_clicked_at=func.coalesce(
                    ShortLink.first_clicked_at, literal(now, ShortLink.first_clicked_at.type)
                ),
            )
            .returning(
                ShortLink.url,
                ShortLink.clicks,
                ShortLink.contact_id,
                ShortLink.outbox_key,
                ShortLink.journey_id,
                ShortLink.step,
            )
            .execution_options(synchronize_session=False)
        )
        row = self.session.execute(stmt).one_or_none()
        if row is None:
            return None
        url, clicks, contact_id, outbox_key, journey_id, step = row
        if outbox_key:
            self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.key == outbox_key, OutboxMessage.clicked_at.is_(None))
                .values(clicked_at=now)
                .execution_options(synchronize_session=False)
            )
        if contact_id is not None:
            props: dict[str, Any] = {
                "code": code,
                "url": url,
                "journey_id": journey_id,
                "step": step,
                "message_key": outbox_key,
            }
            if user_agent:
                props["user_agent"] = user_agent[:300]
            emit_events(
                self.session, CLICK_EVENT, [(f"{CLICK_EVENT}:{code}:{clicks}", contact_id, props)], now
            )
        return url if url.startswith(("https://", "http://")) else None
