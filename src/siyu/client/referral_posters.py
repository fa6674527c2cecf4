"""Python API for referral posters: ``s.referral_posters``. A participant's poster PNG (drawn
once, then served from the cache under the data directory), the campaign's preview with a
sample inviter, and the template check the campaign builder runs before saving."""

from __future__ import annotations

from typing import Any

from siyu.context import AppContext
from siyu.referrals.posters import Poster, PosterService, check_template


class ReferralPostersClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def poster(self, campaign: str, code: str) -> Poster:
        """The poster of the participant with ``code``; raises ``PosterNotFound`` (unknown
        campaign or code), ``PosterError`` (a bad template) or ``FontMissing``."""
        with self.ctx.db.session() as s:
            return PosterService(s, self.ctx.settings).for_participant(campaign, code)

    def etag(self, campaign: str, code: str) -> str:
        """The poster's ETag without drawing it."""
        with self.ctx.db.session() as s:
            return PosterService(s, self.ctx.settings).etag(campaign, code)

    def preview(self, campaign: str, poster: dict[str, Any] | None = None) -> Poster:
        """The campaign's poster for a sample inviter; ``poster``: a template to try instead."""
        with self.ctx.db.session() as s:
            return PosterService(s, self.ctx.settings).preview(campaign, poster)

    def check_template(self, poster: dict[str, Any] | None) -> dict[str, Any]:
        """The template with its defaults filled in; raises ``PosterError`` naming the field."""
        with self.ctx.db.session() as s:
            return check_template(s, poster).model_dump(mode="json")

    def prune(self) -> int:
        """Remove cached posters of participants that no longer exist (after a privacy deletion)."""
        with self.ctx.db.session() as s:
            return PosterService(s, self.ctx.settings).prune()
