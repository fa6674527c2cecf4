"""Keys that name rows in URLs and files (channels, segments): one rule for all of them."""

from __future__ import annotations

import re

SLUG = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


def check_slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError("use 1-64 lower-case letters, digits, '-' or '_'")
    return value
