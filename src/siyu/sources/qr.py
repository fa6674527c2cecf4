"""QR codes for entry codes (活码): the link a printed poster or a shared image carries.

An entry code's ``state`` only means something once it reaches ingest as ``context.state``, so
the QR encodes the brand's landing page (H5, mini-program web view, …) with ``state`` as a query
parameter; the page's SDK passes it on. The image is SVG built by the ``qrcode`` package's own
SVG factory, so no Pillow (or any image library) is needed and it prints sharp at any size.
"""

from __future__ import annotations

import io
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import qrcode
from qrcode.image.svg import SvgPathImage
from sqlalchemy.orm import Session

from siyu.store.models import EntryCode


class QrError(ValueError):
    """A landing page URL that cannot carry an entry code."""


def entry_url(landing_url: str, state: str) -> str:
    """``landing_url`` with ``state`` set as a query parameter (replacing any given state, keeping
    every other parameter and the fragment)."""
    parts = urlsplit(landing_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise QrError(f"landing_url: an http(s) address is needed, not {landing_url!r}")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "state"]
    query.append(("state", state))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), parts.fragment))


def qr_svg(data: str, box_size: int = 10, border: int = 4) -> bytes:
    """An SVG document of the QR code for ``data`` (error correction M: survives a smudged print
    while keeping the code small enough to scan off a phone screen)."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
        image_factory=SvgPathImage,
    )
    code.add_data(data)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()


def entry_code(session: Session, code_id: int) -> EntryCode | None:
    """The entry code to draw, or None when there is no such code."""
    return session.get(EntryCode, code_id)
