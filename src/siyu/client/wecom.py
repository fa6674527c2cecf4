"""Python API for WeCom contact ways, acquisition links, sync, staff and transfers:
``s.wecom`` (entry codes, sync) and ``s.staff`` (staff, figures, turnover)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.context import AppContext
from siyu.wecom import figures, staff, sync, transfer
from siyu.wecom.provider import default_provider_key, provider_api
from siyu.wecom.ways import WaySpec, WaysService, describe


class WeComClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    @contextmanager
    def _ways(self) -> Iterator[tuple[Session, WaysService]]:
        with self.ctx.db.session() as s:
            service = WaysService(s, lambda key: provider_api(s, self.ctx.keyring, key))
            try:
                yield s, service
            finally:
                service.close()

    def create_way(
        self,
        channel: str,
        state: str,
        provider: str,
        staff: list[str],
        kind: str = "contact_way",
        name: str | None = None,
        skip_verify: bool = True,
        welcome_template: str | None = None,
        tags: list[str] | None = None,
        campaign: str | None = None,
        actor: str = "python",
    ) -> dict[str, Any]:
        """A contact way (``kind="contact_way"``) or 获客助手 link (``"acquisition_link"``) made at
        WeCom and recorded as an entry code. Raises ``WaysError`` naming the field."""
        spec = WaySpec(
            channel, state, provider, list(staff), kind, name, campaign, skip_verify, welcome_template
        )
        spec.tags = list(tags or [])
        with self._ways() as (_, service):
            return describe(service.create(spec, actor=actor))

    def update_way(self, state: str, actor: str = "python", **changes: Any) -> dict[str, Any]:
        """Change ``name``, ``staff``, ``skip_verify``, ``welcome_template`` or ``tags``."""
        with self._ways() as (_, service):
            return describe(service.update(state, actor=actor, **changes))

    def delete_way(self, state: str, actor: str = "python") -> dict[str, Any]:
        with self._ways() as (_, service):
            return describe(service.delete(state, actor=actor))

    def ways(self, include_deleted: bool = True) -> list[dict[str, Any]]:
        """Every entry code (plain ones too) with its WeCom fields."""
        with self._ways() as (_, service):
            return [describe(c) for c in service.list(include_deleted)]

    def way(self, state: str) -> dict[str, Any]:
        with self._ways() as (_, service):
            return describe(service.get(state))

    def pull_link_customers(self, state: str) -> dict[str, int]:
        with self._ways() as (_, service):
            return service.pull_link_customers(state)

    def figures(
        self,
        states: list[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        by_day: bool = False,
    ) -> list[dict[str, Any]]:
        """Per-code adds, deletions within 24 h / 7 days, net adds (see ``siyu.wecom.figures``)."""
        with self.ctx.db.session() as s:
            return figures.code_figures(s, self.ctx.timezone(s), states, start, end, by_day)

    def sync(
        self,
        provider: str | None = None,
        mode: str = "full",
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Sync staff and customers; returns the finished run (``status`` done / failed).
        ``provider``: the default (or only) wecom provider when not given."""
        with self.ctx.db.session() as s:
            key = default_provider_key(s, provider)
        return sync.run_sync(self.ctx, key, mode, on_progress=on_progress)

    def start_sync(self, provider: str | None = None, mode: str = "full") -> dict[str, Any]:
        """Start a sync in a background thread; answers its progress row at once (poll
        :meth:`sync_runs`). The thread has its own units of work."""
        with self.ctx.db.session() as s:
            key = default_provider_key(s, provider)
        run = sync.open_run(self.ctx, key, mode)
        threading.Thread(
            target=sync.run_sync, args=(self.ctx, key, mode), kwargs={"run_id": run["id"]}, daemon=True
        ).start()
        return run

    def sync_runs(self, provider: str | None = None) -> list[dict[str, Any]]:
        return sync.last_runs(self.ctx, provider)


class StaffClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def list(self, provider: str | None = None) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return staff.list_staff(s, provider)

    def show(
        self, userid: str, provider: str | None = None, start: date | None = None, end: date | None = None
    ) -> dict[str, Any]:
        """The staff member, their totals and per-day figures (last 30 days by default)."""
        with self.ctx.db.session() as s:
            row = staff.get_staff(s, userid, provider)
            zone = self.ctx.timezone(s)
            end = end or staff.today(zone)
            start = start or end - timedelta(days=29)
            summary = next(x for x in staff.list_staff(s, row.provider_key) if x["userid"] == row.userid)
            return {
                **summary,
                "timezone": zone,
                "days": staff.daily_figures(s, zone, row.provider_key, row.userid, start, end),
                "transfers": transfer.transfers(s, row.provider_key, row.userid),
            }

    def transfer(
        self,
        provider: str | None,
        handover: str,
        takeover: str,
        external_userids: list[str],
        message: str | None = None,
        actor: str = "python",
    ) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            key = default_provider_key(s, provider)
            api = provider_api(s, self.ctx.keyring, key)
            try:
                return transfer.transfer(s, api, key, handover, takeover, external_userids, message, actor)
            finally:
                api.close()

    def poll_transfers(self, provider: str | None = None) -> dict[str, int]:
        with self.ctx.db.session() as s:
            key = default_provider_key(s, provider)
            api = provider_api(s, self.ctx.keyring, key)
            try:
                return transfer.poll(s, api, key)
            finally:
                api.close()

    def transfers(self, provider: str | None = None, userid: str | None = None) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return transfer.transfers(s, provider, userid)
