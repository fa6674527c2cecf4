"""Participants' codes: the short ``?ref=`` value and the WeCom ``state``.

A code is 8 characters from 31 (lowercase base36 without 0/o, 1/i/l, which people misread from a
poster): 31⁸ ≈ 8.5·10¹¹ codes, drawn with ``secrets``, so guessing a live code among even a
million participants takes about a million tries. The ``state`` is ``rf`` + the campaign id in
base36 + ``_`` + the code: at most 2 + 13 + 1 + 8 = 24 characters, under WeCom's 30, unique
because the code is, and recognisable as a referral state in the callback."""

from __future__ import annotations

import secrets

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 8
STATE_PREFIX = "rf"
DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def base36(n: int) -> str:
    if n < 0:
        raise ValueError("base36: a non-negative id")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = DIGITS36[r] + out
        if n == 0:
            return out


def state_for(campaign_id: int, code: str) -> str:
    state = f"{STATE_PREFIX}{base36(campaign_id)}_{code}"
    assert len(state) <= 30  # WeCom's limit on state
    return state


def normalise(code: str) -> str:
    """A code as typed or read from a link: case and surrounding spaces do not matter."""
    return str(code or "").strip().lower()[:32]


def link(base_url: str, code: str) -> str:
    """The share link: the brand's public address with ``?ref=``; the landing page passes the
    code on as the ``referral_code`` property of its identify/track call."""
    return f"{base_url.rstrip('/')}/?ref={code}"
