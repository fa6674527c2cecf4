"""Fetching the images a poster shows from elsewhere: the inviter's avatar (WeCom's
``avatar`` trait) and their contact way's QR code (``qr_url``).

The URLs come from contact data, which any source with a write key can set, so the server must
not become a way to reach what only it can reach: only hosts on SIYU_POSTER_IMAGE_HOSTS (by
default WeChat's and WeCom's image CDNs), http(s) only, redirects followed only to allowed
hosts. An answer that is slow, too large or not an image is no image (``None``): the poster
falls back (initials for an avatar, a locally made QR code of the link) rather than failing,
so one broken avatar never costs an inviter their poster."""

from __future__ import annotations

import io
import time
from fnmatch import fnmatch
from urllib.parse import urljoin, urlsplit

import httpx
from PIL import Image

#: The largest image fetched (WeCom avatars are ~10–100 KB, contact-way QR codes ~30 KB).
MAX_BYTES = 2 * 1024 * 1024
#: The most pixels a fetched image may declare (a small file can declare a huge canvas).
MAX_PIXELS = 16_000_000
MAX_REDIRECTS = 3


def allowed(url: str, hosts: list[str]) -> bool:
    """Whether ``url`` is http(s) on a host matching one of ``hosts`` (``*.qpic.cn`` style)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme in ("http", "https") and bool(host) and any(fnmatch(host, h.lower()) for h in hosts)


def fetch_image(
    url: str | None, hosts: list[str], timeout_s: float, max_bytes: int = MAX_BYTES
) -> Image.Image | None:
    """The image at ``url``, decoded and converted to RGBA, or None when it cannot be had
    within ``timeout_s`` overall, ``max_bytes`` and the allowed hosts."""
    if not url:
        return None
    deadline = time.monotonic() + timeout_s
    try:
        data = _download(url, hosts, deadline, max_bytes)
    except (httpx.HTTPError, OSError, ValueError):
        return None
    if data is None:
        return None
    return decode(data)


def decode(data: bytes) -> Image.Image | None:
    """Bytes → an RGBA image, or None when they are not a PNG/JPEG/GIF/WebP image of sane size."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("PNG", "JPEG", "GIF", "WEBP"):
                return None
            if img.width * img.height > MAX_PIXELS:
                return None
            img.load()
            return img.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _download(url: str, hosts: list[str], deadline: float, max_bytes: int) -> bytes | None:
    with httpx.Client(follow_redirects=False) as http:
        for _ in range(MAX_REDIRECTS + 1):
            if not allowed(url, hosts):
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with http.stream("GET", url, timeout=httpx.Timeout(left)) as resp:
                if resp.is_redirect and "location" in resp.headers:
                    url = urljoin(url, resp.headers["location"])
                    continue
                if resp.status_code != 200:
                    return None
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    return None
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes or time.monotonic() > deadline:
                        return None
                return bytes(body)
    return None
