"""Python API for engagement on top of the points ledger: check-ins (``s.engage.checkin(…)``),
tasks and badges (``.tasks()``, ``.add_task(…)``, ``.run_tasks()``, ``.badges(…)``), the points
catalogue (``.catalogue()``, ``.add_item(…)``, ``.redeem(…)``) and the birthday gift job
(``.run_birthdays()``). A contact is an id or a query (phone, email, ``type:value``, ``id:N``).
Each call is one unit of work; times in answers are ISO strings (UTC)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from siyu.client.layers import _Part
from siyu.client.loyalty import plain
from siyu.loyalty.birthday import run_birthdays
from siyu.loyalty.catalogue import CatalogueService, item_dict, redemption_dict
from siyu.loyalty.checkins import CheckinService
from siyu.loyalty.ledger import balances
from siyu.loyalty.tasks import TaskService, task_dict
from siyu.loyalty.tasks import run_until_caught_up as run_tasks
from siyu.store.models import utcnow


class EngageClient(_Part):
    # --- check-ins ----------------------------------------------------------------------------
    def checkin_settings(self) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return CheckinService(s, tz=self.ctx.timezone(s)).settings()

    def set_checkin_settings(self, settings: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        """``{"points": 1, "milestones": {"7": 20}}`` (checked; LoyaltyError names the field)."""
        with self.ctx.db.session() as s:
            return CheckinService(s, tz=self.ctx.timezone(s)).set_settings(settings, actor=actor)

    def checkin(
        self, contact: int | str, actor: str = "python", now: datetime | None = None
    ) -> dict[str, Any]:
        """Check the member in for their local today (a second call the same day changes
        nothing and says ``"new": false``)."""
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            svc = CheckinService(s, now=now, tz=self.ctx.timezone(s))
            out = svc.check_in(cid, actor=actor).as_dict()
            s.flush()
            out["balance"] = balances(s, [cid], svc.now)[cid].active
            return out

    def checkins(self, contact: int | str, limit: int = 60) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            rows = CheckinService(s, tz=self.ctx.timezone(s)).history(self._contact(s, contact), limit)
            return [{"day": r.day.isoformat(), "streak": r.streak, "points": r.points} for r in rows]

    # --- tasks and badges ---------------------------------------------------------------------
    def tasks(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            svc = TaskService(s)
            done = svc.completions()
            return [{**task_dict(t), "completed": done.get(t.key, 0)} for t in svc.list()]

    def add_task(self, key: str, actor: str = "python", **values: Any) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return task_dict(TaskService(s).create(key, values, actor=actor))

    def update_task(self, key: str, actor: str = "python", **values: Any) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return task_dict(TaskService(s).update(key, values, actor=actor))

    def run_tasks(self, now: datetime | None = None) -> dict[str, Any]:
        """Evaluate the tasks on events received since the last run (each batch committed)."""
        return run_tasks(self.ctx.db, now).as_dict()

    def badges(self, contact: int | str) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return plain(TaskService(s).badges(self._contact(s, contact)))

    # --- catalogue ------------------------------------------------------------------------------
    def catalogue(self, active_only: bool = False) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [item_dict(i) for i in CatalogueService(s).list(active_only=active_only)]

    def add_item(self, key: str, actor: str = "python", **values: Any) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return item_dict(CatalogueService(s).create(key, values, actor=actor))

    def update_item(self, key: str, actor: str = "python", **values: Any) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return item_dict(CatalogueService(s).update(key, values, actor=actor))

    def redeem(
        self, contact: int | str, item: str, external_id: str | None = None, actor: str = "python"
    ) -> dict[str, Any]:
        """Spend the item's points and issue its coupon, in one unit of work; a repeated
        ``external_id`` returns the first redemption."""
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            svc = CatalogueService(s, tz=self.ctx.timezone(s))
            r = svc.redeem(cid, item, external_id=external_id, actor=actor)
            s.flush()
            out = redemption_dict(r, item)
            if r.coupon_id is not None:
                from siyu.store.models import Coupon

                coupon = s.get(Coupon, r.coupon_id)
                out["coupon"] = {"code": coupon.code, "expires_at": coupon.expires_at} if coupon else None
            out["balance"] = balances(s, [cid], svc.now)[cid].active
            return plain(out)

    def redemptions(self, contact: int | str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact) if contact is not None else None
            return plain([redemption_dict(r, k) for r, k in CatalogueService(s).redemptions(cid, limit)])

    # --- birthdays ------------------------------------------------------------------------------
    def run_birthdays(self, now: datetime | None = None) -> dict[str, int]:
        """Give today's birthday gifts (points and the tier's coupon, once a year)."""
        with self.ctx.db.session() as s:
            return run_birthdays(s, now=now or utcnow(), tz=self.ctx.timezone(s)).as_dict()
