"""Python API for referral campaigns: ``s.referrals``. Campaigns, a contact's code and link, the
referrals and rewards of a campaign, and the lifecycle job. Like the CLI it acts with the
database's own authority; the REST API and the console check roles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.context import AppContext
from siyu.profiles import views
from siyu.referrals.jobs import run_jobs
from siyu.referrals.service import (
    ReferralService,
    campaign_json,
    participant_json,
    referral_json,
    reward_json,
)


class ReferralsClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def _contact(self, s: Session, contact: int | str) -> int:
        if isinstance(contact, int):
            return contact
        return views.find_contact_id(self.ctx.profiles(s), self.ctx.parser, str(contact))

    def campaigns(self, status: str | None = None) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [campaign_json(c) for c in ReferralService(s).list(status)]

    def campaign(self, key: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            svc = ReferralService(s)
            row = svc.get(key)
            return campaign_json(row) | {"counts": svc.counts(row)}

    def create(self, definition: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        """Create a campaign from its definition (see docs/referrals.md); ``ReferralError``
        lists every bad field."""
        with self.ctx.db.session() as s:
            return campaign_json(ReferralService(s).create(definition, actor))

    def update(self, key: str, changes: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return campaign_json(ReferralService(s).update(key, changes, actor))

    def move(self, key: str, action: str, actor: str = "python") -> dict[str, Any]:
        """``activate``, ``pause`` or ``end``."""
        with self.ctx.db.session() as s:
            return campaign_json(ReferralService(s).move(key, action, actor))

    def code(self, key: str, contact: int | str, actor: str = "python") -> dict[str, Any]:
        """The contact's code, WeCom state and link in the campaign (joining them if needed)."""
        with self.ctx.db.session() as s:
            svc = ReferralService(s, self.ctx)
            row = svc.join(svc.get(key), self._contact(s, contact), actor)
            return participant_json(row, self.ctx.settings.public_url)

    def participants(self, key: str, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            svc = ReferralService(s)
            url = self.ctx.settings.public_url
            return [participant_json(p, url) for p in svc.participants(svc.get(key), limit, offset)]

    def list(
        self, key: str, status: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[dict[str, Any]]:
        """The campaign's referrals with status and fraud ``reasons``."""
        with self.ctx.db.session() as s:
            svc = ReferralService(s)
            return [referral_json(r, key) for r in svc.referrals(svc.get(key), status, limit, offset)]

    def rewards(self, key: str, limit: int = 1000) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            svc = ReferralService(s)
            return [reward_json(w) for w in svc.rewards(svc.get(key), limit)]

    def run(self, now: datetime | None = None, campaign: str | None = None) -> dict[str, int]:
        """The lifecycle job now: voids, qualifications, approvals and their rewards."""
        if campaign:
            with self.ctx.db.session() as s:
                ReferralService(s).get(campaign)
        return run_jobs(self.ctx.db, now, campaign=campaign)
