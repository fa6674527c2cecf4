"""Referral posters (裂变海报): a PNG per participant, drawn with Pillow from the campaign's
template (``settings["poster"]``) with the inviter's avatar, nickname and QR code and text in a
CJK font, cached on disk until something on it changes. See docs/referrals-posters.md."""

from __future__ import annotations

from siyu.referrals.posters.render import find_font, qr_matrix
from siyu.referrals.posters.service import Poster, PosterService, check_template, referral_link
from siyu.referrals.posters.template import (
    DEFAULT,
    FontMissing,
    PosterError,
    PosterNotFound,
    PosterTemplate,
    parse,
)

__all__ = [
    "DEFAULT",
    "FontMissing",
    "Poster",
    "PosterError",
    "PosterNotFound",
    "PosterService",
    "PosterTemplate",
    "check_template",
    "find_font",
    "parse",
    "qr_matrix",
    "referral_link",
]
