"""Python API for membership and points: ``s.loyalty.enrol("13800138000")``, ``.balance(…)``,
``.award(…)``, ``.spend(…)``, ``.ledger(…)``, ``.verify()``, the programme (``.programme()``,
``.set_programme(…)``), tiers (``.tiers()``, ``.add_tier(…)``, ``.update_tier(…)``), members and
the jobs (``.run_jobs()``). A contact is an id or a query (phone, email, ``type:value``, ``id:N``).
Each call is one unit of work; times in answers are ISO strings (UTC)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from siyu.client.layers import _Part
from siyu.loyalty import views
from siyu.loyalty.jobs import run_jobs
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import get_programme, programme_dict, update_programme
from siyu.loyalty.service import LoyaltyService
from siyu.loyalty.tiers import add_tier, list_tiers, tier_dict, update_tier
from siyu.loyalty.verify import verify
from siyu.store.models import utcnow


def plain(value: Any) -> Any:
    """Datetimes as ISO text, recursively (answers are JSON-ready)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class LoyaltyClient(_Part):
    # --- programme and tiers ------------------------------------------------------------------
    def programme(self) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return programme_dict(get_programme(s))

    def set_programme(self, changes: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        """Change settings (all checked before any applies; LoyaltyError names the field)."""
        with self.ctx.db.session() as s:
            return programme_dict(update_programme(s, changes, actor=actor))

    def tiers(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [tier_dict(t) for t in list_tiers(s)]

    def add_tier(self, key: str, actor: str = "python", **values: Any) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return tier_dict(add_tier(s, key, values, actor=actor))

    def update_tier(self, key: str, actor: str = "python", **values: Any) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return tier_dict(update_tier(s, key, values, actor=actor))

    # --- members ------------------------------------------------------------------------------
    def enrol(
        self, contact: int | str, source: str | None = None, consent: bool = True, actor: str = "python"
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            LoyaltyService(s, tz=self.ctx.timezone(s)).enrol(cid, source=source, consent=consent, actor=actor)
            s.flush()
            return plain(views.card(s, cid, utcnow()))

    def member(self, contact: int | str) -> dict[str, Any]:
        """The member card: number, tier, balances, next expiry, progress to the next tier."""
        with self.ctx.db.session() as s:
            return plain(views.card(s, self._contact(s, contact), utcnow()))

    def members(self, tier: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return plain(views.members(s, utcnow(), tier=tier, limit=limit, offset=offset))

    # --- points -------------------------------------------------------------------------------
    def balance(self, contact: int | str) -> dict[str, Any]:
        """``{"active", "pending", "spent", "expired", "negative", "tier", …}``."""
        with self.ctx.db.session() as s:
            return plain(views.balance_dict(s, self._contact(s, contact), utcnow()))

    def award(
        self,
        contact: int | str,
        points: int,
        reason: str,
        external_id: str | None = None,
        source: str = "manual",
        actor: str = "python",
    ) -> dict[str, Any]:
        """Award points (a repeated ``external_id`` returns the first award, changing nothing)."""
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            entry = Ledger(s, tz=self.ctx.timezone(s)).award(
                cid, points, source=source, reason=reason, external_id=external_id, actor=actor
            )
            s.flush()
            return plain({"entry": views.entry_dict(entry), "balance": views.balance_dict(s, cid, utcnow())})

    def spend(
        self,
        contact: int | str,
        points: int,
        reason: str = "spend",
        external_id: str | None = None,
        actor: str = "python",
    ) -> dict[str, Any]:
        """Spend active points, earliest expiry first; InsufficientPoints when too few."""
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            entry = Ledger(s).spend(cid, points, reason=reason, external_id=external_id, actor=actor)
            s.flush()
            return plain({"entry": views.entry_dict(entry), "balance": views.balance_dict(s, cid, utcnow())})

    def ledger(self, contact: int | str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return plain(views.ledger_rows(s, self._contact(s, contact), limit=limit, offset=offset))

    def verify(self) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return verify(s)

    def run_jobs(self, only: list[str] | None = None, now: datetime | None = None) -> dict[str, int]:
        """Release pending points, announce and expire points, review tiers (each to the end)."""
        return run_jobs(self.ctx.db, now, only=only)
