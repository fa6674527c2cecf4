"""Python API for distribution (分销): ``s.distribution.settings()``, ``.set_settings(…)``,
promoters (``.apply(…)``, ``.approve(code)``, ``.reject(code)``, ``.promoters()``,
``.set_openid(…)``), ``.bind(contact, code)``, ``.commissions(…)``, ``.settle()`` (the job),
``.dashboard(code)``, ``.export(fmt)``, ``.payout()`` and ``.verify()``. A contact is an id or
a query (phone, email, ``type:value``, ``id:N``). Each call is one unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from siyu.client.layers import _Part
from siyu.distribution import ledger, payouts, promoters, views
from siyu.distribution.binding import bind
from siyu.distribution.profitsharing import ProfitSharingClient, ProfitSharingConfig
from siyu.distribution.settings import DistributionError, get_settings, settings_dict, update_settings
from siyu.exports.tabular import ExportFile
from siyu.store.models import Promoter, PromoterBinding, utcnow


class DistributionClient(_Part):
    # --- settings -----------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return settings_dict(get_settings(s))

    def set_settings(self, changes: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        """Change settings (all checked before any applies; DistributionError names the field,
        e.g. ``level2_rate`` when the two rates add up to more than 100%)."""
        with self.ctx.db.session() as s:
            return settings_dict(update_settings(s, changes, actor=actor))

    # --- promoters ----------------------------------------------------------------------------
    def apply(self, contact: int | str, actor: str = "python", note: str | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return promoters.promoter_dict(promoters.apply(s, self._contact(s, contact), actor, note))

    def approve(self, code: str, actor: str = "python", note: str | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return promoters.promoter_dict(promoters.decide(s, code, True, actor, note))

    def reject(self, code: str, actor: str = "python", note: str | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return promoters.promoter_dict(promoters.decide(s, code, False, actor, note))

    def set_openid(self, code: str, openid: str | None, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return promoters.promoter_dict(promoters.set_openid(s, code, openid, actor))

    def promoters(self, status: str | None = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [promoters.promoter_dict(p) for p in promoters.list_promoters(s, status, limit, offset)]

    def promoter(self, contact: int | str) -> dict[str, Any] | None:
        """The contact's promoter record, or None."""
        with self.ctx.db.session() as s:
            p = promoters.promoter_of(s, self._contact(s, contact))
            return None if p is None else promoters.promoter_dict(p)

    # --- binding and commissions --------------------------------------------------------------
    def bind(self, contact: int | str, code: str, at: datetime | None = None) -> dict[str, Any]:
        """Bind as a visit through the promoter's link would; ``outcome`` says what happened
        (``bound``, ``rebound``, ``kept``, or why not: ``locked``, ``not_new``, ``self`` …)."""
        with self.ctx.db.session() as s:
            got = bind(s, self._contact(s, contact), code, at or utcnow(), via="operator")
            return {"outcome": got.outcome, "ok": got.ok, "contact_id": got.contact_id, "code": got.code}

    def binding(self, contact: int | str) -> dict[str, Any] | None:
        """Who the contact is bound to: ``{"code", "bound_at", "locked_until", "via"}`` or None."""
        with self.ctx.db.session() as s:
            row = s.get(PromoterBinding, self._contact(s, contact))
            if row is None:
                return None
            p = s.get(Promoter, row.promoter_id)
            return {
                "code": p.code if p else None,
                "bound_at": row.bound_at.isoformat(),
                "locked_until": row.locked_until.isoformat() if row.locked_until else None,
                "via": row.via,
            }

    def commissions(
        self, code: str | None = None, state: str | None = None, limit: int = 200, offset: int = 0
    ) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return views.commissions(s, code, state, limit, offset)

    def settle(self, now: datetime | None = None) -> dict[str, int]:
        """The settlement job: reverse refunds no consumer saw, start freezes, settle those
        whose freeze is over."""
        with self.ctx.db.session() as s:
            return ledger.settle(s, now or utcnow())

    def balances(self, code: str) -> dict[str, str]:
        with self.ctx.db.session() as s:
            p = promoters.get_promoter(s, code)
            return views.money(ledger.balances(s, [p.id]).get(p.id, views.ZERO))

    def verify(self) -> dict[str, Any]:
        """Promoters whose pending + frozen + settled differ from earned − reversed (none)."""
        with self.ctx.db.session() as s:
            broken = ledger.verify(s)
            return {"ok": not broken, "promoters": broken}

    # --- payouts ------------------------------------------------------------------------------
    def dashboard(self, code: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return views.dashboard(s, code)

    def export(self, fmt: str = "csv", lang: str = "zh") -> ExportFile:
        with self.ctx.db.session() as s:
            return views.settlement_export(s, fmt, get_settings(s).min_withdrawal, lang)

    def payout(
        self, config: ProfitSharingConfig | None = None, transport: httpx.BaseTransport | None = None
    ) -> dict[str, Any]:
        """Plan payouts of settled commissions (committed), then send every unsent one through
        WeChat Pay profit sharing. ``config`` defaults to the SIYU_WECHATPAY_* variables."""
        config = config or ProfitSharingConfig.from_env()
        if config is None:
            raise DistributionError(
                "not_configured",
                "payout: WeChat Pay profit sharing is not configured (SIYU_WECHATPAY_*)",
                field="payout",
            )
        with self.ctx.db.session() as s:
            planned = [p.out_order_no for p in payouts.plan(s, utcnow())]
        client = ProfitSharingClient(config, transport)
        try:
            with self.ctx.db.session() as s:
                sent = payouts.send(s, client, utcnow())
        finally:
            client.close()
        return {"planned": planned, "sent": sent}
