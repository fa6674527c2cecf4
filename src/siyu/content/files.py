"""Uploaded images for materials (素材): a picture to send on WeCom, a mini-program card's cover,
a smart SMS card's image.

The limits are WeCom's, the strictest place an image goes: ``media/uploadimg`` (the image URL
``add_msg_template`` accepts as ``pic_url``) takes JPG or PNG of 5 B to 2 MB. The type is read
from the file's own bytes, never from its name or the declared Content-Type, so a renamed
HTML or SVG file cannot be served from the console's origin as an image.

Files are kept in the database under the SHA-256 of their bytes (the same picture uploaded
twice is stored once) and served with ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.content.schemas import ContentError
from siyu.store.models import Material, MaterialFile

MAX_BYTES = 2 * 1024 * 1024
MIN_BYTES = 5
TYPES = {"image/png": "PNG", "image/jpeg": "JPG"}


class UploadTooLarge(ContentError):
    """The upload is larger than :data:`MAX_BYTES` (REST: 413)."""


class UploadRefused(ContentError):
    """Not an image the channels accept (REST: 415)."""


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    width: int | None
    height: int | None


def sniff(data: bytes) -> Sniffed:
    """The image's type and size from its bytes; raises :class:`UploadRefused` otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return Sniffed("image/png", width, height)
    if data.startswith(b"\xff\xd8\xff"):
        width, height = _jpeg_size(data)
        return Sniffed("image/jpeg", width, height)
    raise UploadRefused("file: not a JPG or PNG image (WeCom accepts only these)")


def _jpeg_size(data: bytes) -> tuple[int | None, int | None]:
    """Width and height from the first start-of-frame marker (None when not found)."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None, None


def check_size(declared: int | None) -> None:
    """Refuse before reading a body whose declared length is already too large."""
    if declared is not None and declared > MAX_BYTES:
        raise UploadTooLarge(f"file: {declared} bytes; at most {MAX_BYTES // (1024 * 1024)} MB")


def file_dict(f: MaterialFile) -> dict[str, Any]:
    return {
        "id": f.id,
        "content_type": f.content_type,
        "filename": f.filename,
        "size": f.size,
        "width": f.width,
        "height": f.height,
        "created_at": f.created_at.isoformat(),
    }


class MaterialFiles:
    """Stores and reads uploaded images. Never commits (the caller does)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def store(self, data: bytes, filename: str, actor: str = "system") -> MaterialFile:
        check_size(len(data))
        if len(data) < MIN_BYTES:
            raise UploadRefused("file: empty or too small to be an image")
        kind = sniff(data)
        digest = hashlib.sha256(data).hexdigest()
        row = self.session.get(MaterialFile, digest)
        if row is not None:
            return row
        name = (filename or "image").replace("\\", "/").rsplit("/", 1)[-1][:200] or "image"
        row = MaterialFile(
            id=digest,
            content_type=kind.content_type,
            filename=name,
            size=len(data),
            width=kind.width,
            height=kind.height,
            data=data,
            created_by=actor[:200],
        )
        self.session.add(row)
        self.session.flush()
        audit.record(
            self.session, actor, "material_file.uploaded", "material_file", digest, {"size": len(data)}
        )
        return row

    def get(self, file_id: str) -> MaterialFile:
        from siyu.content.service import ContentNotFound

        row = self.session.get(MaterialFile, file_id) if len(file_id) == 64 else None
        if row is None:
            raise ContentNotFound(f"unknown file {file_id[:64]!r}")
        return row

    def missing(self, file_ids: set[str]) -> set[str]:
        if not file_ids:
            return set()
        found = set(self.session.scalars(select(MaterialFile.id).where(MaterialFile.id.in_(file_ids))))
        return file_ids - found

    def unused(self) -> list[str]:
        """Files no material refers to (for a clean-up; uploads are kept until then)."""
        used = {str(m.data.get("file")) for m in self.session.scalars(select(Material))}
        return [f for f in self.session.scalars(select(MaterialFile.id)) if f not in used]
