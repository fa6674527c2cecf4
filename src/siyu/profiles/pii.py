"""PII at rest: AES-GCM field encryption, HMAC blind indexes, and masking for display.

Ciphertext layout: ``b"\\x01" | key fingerprint (4 bytes) | nonce (12) | AES-GCM(ct+tag)``.
The fingerprint lets any configured key decrypt what it wrote, so keys can rotate: put the
new key first, run ``siyu keys rotate`` (re-encrypts and re-indexes), then drop the old key.
The blind index key is derived with HKDF from the first key, so rotation re-indexes too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"


class KeyError_(ValueError):
    """A configured key is malformed or a ciphertext's key is not configured."""


def _fingerprint(key: bytes) -> bytes:
    return hashlib.sha256(b"siyu-key-id" + key).digest()[:4]


def generate_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def load_keys(secret: str | None, key_file: Path) -> list[bytes]:
    """Keys from ``SIYU_SECRET_KEY`` (comma-separated base64) or the key file, which is created
    with mode 0600 on first run when no key is configured."""
    if secret:
        raw = [s.strip() for s in secret.split(",") if s.strip()]
    else:
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(generate_key() + "\n")
        raw = [s.strip() for s in key_file.read_text().replace("\n", ",").split(",") if s.strip()]
    keys = []
    for item in raw:
        try:
            key = base64.b64decode(item, validate=True)
        except ValueError as exc:
            raise KeyError_(f"secret key is not valid base64: {exc}") from exc
        if len(key) != 32:
            raise KeyError_(f"secret key must be 32 bytes of base64, got {len(key)} bytes")
        keys.append(key)
    if not keys:
        raise KeyError_("no secret key configured")
    return keys


class Keyring:
    """Encrypts, decrypts and blind-indexes PII values."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise KeyError_("a keyring needs at least one key")
        self._primary = keys[0]
        self._primary_fp = _fingerprint(keys[0])
        self._ciphers = {_fingerprint(k): AESGCM(k) for k in keys}
        self._index_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"siyu-blind-index"
        ).derive(keys[0])

    def encrypt(self, plaintext: str, associated: bytes = b"") -> bytes:
        nonce = os.urandom(12)
        ct = self._ciphers[self._primary_fp].encrypt(nonce, plaintext.encode(), associated)
        return _VERSION + self._primary_fp + nonce + ct

    def decrypt(self, blob: bytes, associated: bytes = b"") -> str:
        if not blob or blob[:1] != _VERSION:
            raise KeyError_("unknown ciphertext version")
        cipher = self._ciphers.get(bytes(blob[1:5]))
        if cipher is None:
            raise KeyError_("ciphertext was written with a key that is not configured")
        return cipher.decrypt(bytes(blob[5:17]), bytes(blob[17:]), associated).decode()

    def needs_rewrap(self, blob: bytes) -> bool:
        return bytes(blob[1:5]) != self._primary_fp

    def blind_index(self, kind: str, value: str) -> str:
        """Deterministic keyed hash: equal values match, the value cannot be read back."""
        msg = kind.encode() + b"\x00" + value.encode()
        return hmac.new(self._index_key, msg, hashlib.sha256).hexdigest()


#: Blind-index "kind" of a phone's last four digits (kept apart from the full-number index).
LAST4_KIND = "phone.last4"


def last4_index(keyring: Keyring, kind: str, value: str) -> str:
    """The blind index a 尾号 search looks for: an HMAC of a phone's last four digits, "" for
    every other identifier type (so NULL means "not indexed yet", see keys.backfill_last4).

    Four digits have only 10,000 values, so this index says little more than the masked phone
    already shows (``138****5678``); it exists to find rows without decrypting every phone."""
    if kind != "phone":
        return ""
    digits = "".join(ch for ch in value if ch.isdigit())
    return keyring.blind_index(LAST4_KIND, digits[-4:]) if len(digits) >= 4 else ""


def mask_phone(e164: str) -> str:
    """``+8613800135678`` → ``138****5678``; other countries keep their prefix."""
    if e164.startswith("+86") and len(e164) == 14:
        national = e164[3:]
        return f"{national[:3]}****{national[-4:]}"
    digits = e164.lstrip("+")
    if len(digits) <= 6:
        return "*" * len(digits)
    return f"+{digits[:3]}****{digits[-4:]}"


def mask_email(email: str) -> str:
    """``zhang@example.com`` → ``z***@example.com``."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_value(kind: str, value: str) -> str:
    """Masked display form for any identifier type (non-PII ids are shortened, not hidden)."""
    if kind == "phone":
        return mask_phone(value)
    if kind == "email":
        return mask_email(value)
    return value
