"""The points catalogue (积分商城): items that cost points and give a coupon (a template) or a
gift, with optional stock and a per-member limit.

A redemption is one transaction: take a unit of stock, spend the points (``Ledger.spend``), issue
the coupon (``CouponService.issue``) and record it. Any refusal (not enough points, out of stock,
over the limit, the coupon template paused or holding the member out) raises before the caller
commits, so nothing of it stays. It is idempotent by ``external_id``: the same id again returns
the first redemption and changes nothing.

Stock is taken by one conditional UPDATE (``stock = stock - 1 WHERE stock > 0``): on PostgreSQL
two members redeeming the last unit queue on the row and only one gets it. The per-member limit
is counted under the member's lock, so one member's parallel calls cannot exceed it.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.coupons.errors import CouponError
from siyu.coupons.service import CouponService
from siyu.loyalty.ledger import Ledger, lock_members
from siyu.loyalty.programme import MAX_POINTS, LoyaltyError, LoyaltyNotFound
from siyu.store.models import LoyaltyMember, Redemption, RedemptionItem, utcnow

_KEY = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
KINDS = ("coupon", "gift")


def item_dict(i: RedemptionItem) -> dict[str, Any]:
    return {
        "key": i.key,
        "name": i.name,
        "kind": i.kind,
        "points": i.points,
        "coupon_template": i.coupon_template,
        "stock": i.stock,
        "per_member_limit": i.per_member_limit,
        "active": i.active,
    }


def redemption_dict(r: Redemption, item_key: str | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "contact_id": r.contact_id,
        "item": item_key,
        "points": r.points,
        "spend_id": r.spend_id,
        "coupon_id": r.coupon_id,
        "external_id": r.external_id,
        "created_at": r.created_at,
    }


def _optional_count(values: dict[str, Any], name: str, lo: int) -> int | None:
    v = values[name]
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= MAX_POINTS:
        raise LoyaltyError(
            f"invalid_{name}", f"{name}: a whole number {lo}–{MAX_POINTS}, or empty", field=name
        )
    return v


def _fields(values: dict[str, Any], partial: bool) -> dict[str, Any]:
    known = {"name", "kind", "points", "coupon_template", "stock", "per_member_limit", "active"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise LoyaltyError("invalid_item", f"{unknown[0]}: unknown field", field=unknown[0])
    out: dict[str, Any] = {}
    if "name" in values or not partial:
        name = str(values.get("name") or "").strip()
        if not 0 < len(name) <= 200:
            raise LoyaltyError("invalid_name", "name: 1–200 characters", field="name")
        out["name"] = name
    if "kind" in values or not partial:
        if values.get("kind") not in KINDS:
            raise LoyaltyError("invalid_kind", "kind: coupon or gift", field="kind")
        out["kind"] = values["kind"]
    if "points" in values or not partial:
        p = values.get("points")
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= MAX_POINTS:
            raise LoyaltyError("invalid_points", f"points: 1–{MAX_POINTS}", field="points")
        out["points"] = p
    if "coupon_template" in values:
        v = values["coupon_template"]
        if v is not None and (not isinstance(v, str) or not 0 < len(v.strip()) <= 64):
            raise LoyaltyError(
                "invalid_coupon_template", "coupon_template: a template key", field="coupon_template"
            )
        out["coupon_template"] = v.strip() if isinstance(v, str) else None
    if "stock" in values:
        out["stock"] = _optional_count(values, "stock", 0)
    if "per_member_limit" in values:
        out["per_member_limit"] = _optional_count(values, "per_member_limit", 1)
    if "active" in values:
        if not isinstance(values["active"], bool):
            raise LoyaltyError("invalid_active", "active: true or false", field="active")
        out["active"] = values["active"]
    return out


class CatalogueService:
    def __init__(self, session: Session, *, now: datetime | None = None, tz: str | None = None) -> None:
        self.session = session
        self.now = now or utcnow()
        self.tz = tz

    # --- items ---------------------------------------------------------------------------------
    def list(self, *, active_only: bool = False) -> list[RedemptionItem]:
        stmt = select(RedemptionItem).order_by(RedemptionItem.points, RedemptionItem.id)
        if active_only:
            stmt = stmt.where(RedemptionItem.active.is_(True))
        return list(self.session.scalars(stmt))

    def get(self, key: str) -> RedemptionItem:
        item = self.session.scalar(select(RedemptionItem).where(RedemptionItem.key == key))
        if item is None:
            raise LoyaltyNotFound("item_not_found", f"no catalogue item {key!r}", field="item")
        return item

    def create(self, key: str, values: dict[str, Any], *, actor: str = "system") -> RedemptionItem:
        if not _KEY.match(key or ""):
            raise LoyaltyError("invalid_key", "key: a-z, 0-9, _ and -, up to 64 characters", field="key")
        if self.session.scalar(select(RedemptionItem.id).where(RedemptionItem.key == key)) is not None:
            raise LoyaltyError("item_exists", f"catalogue item {key!r} exists", field="key")
        item = RedemptionItem(key=key, created_at=self.now, **{"active": True, **_fields(values, False)})
        self._check(item)
        self.session.add(item)
        self.session.flush()
        audit.record(
            self.session, actor, "catalogue_item.created", "redemption_item", item.id, item_dict(item)
        )
        return item

    def update(self, key: str, values: dict[str, Any], *, actor: str = "system") -> RedemptionItem:
        item = self.get(key)
        changes = _fields(values, True)
        for k, v in changes.items():
            setattr(item, k, v)
        self._check(item)
        self.session.flush()
        audit.record(self.session, actor, "catalogue_item.updated", "redemption_item", item.id, changes)
        return item

    def _check(self, item: RedemptionItem) -> None:
        if item.kind == "coupon":
            if not item.coupon_template:
                raise LoyaltyError(
                    "coupon_template_required",
                    "coupon_template: needed for a coupon",
                    field="coupon_template",
                )
            try:
                CouponService(self.session, now=self.now).templates.get(item.coupon_template)
            except CouponError:
                raise LoyaltyError(
                    "coupon_template_not_found",
                    f"coupon_template: no coupon template {item.coupon_template!r}",
                    field="coupon_template",
                ) from None
        elif item.coupon_template:
            raise LoyaltyError(
                "invalid_coupon_template", "coupon_template: only for kind coupon", field="coupon_template"
            )

    # --- redeem --------------------------------------------------------------------------------
    def redeem(
        self, contact_id: int, item_key: str, *, external_id: str | None = None, actor: str = "system"
    ) -> Redemption:
        if external_id is not None and not 0 < len(external_id.strip()) <= 150:
            raise LoyaltyError("invalid_external_id", "external_id: 1–150 characters", field="external_id")
        ext = external_id.strip() if external_id else f"auto:{uuid.uuid4().hex}"
        lock_members(self.session, [contact_id])
        found = self.session.scalar(select(Redemption).where(Redemption.external_id == ext))
        if found is not None:
            item = self.session.get(RedemptionItem, found.item_id)
            if found.contact_id != contact_id or item is None or item.key != item_key:
                raise LoyaltyError(
                    "external_id_reused",
                    "external_id: already used for another redemption",
                    field="external_id",
                )
            return found
        member = self.session.get(LoyaltyMember, contact_id)
        if member is None or member.status != "active":
            raise LoyaltyError(
                "not_a_member", f"contact {contact_id} has no active membership", field="contact"
            )
        item = self.get(item_key)
        if not item.active:
            raise LoyaltyError("item_inactive", f"catalogue item {item_key!r} is not on offer", field="item")
        if item.per_member_limit is not None:
            had = self.session.scalar(
                select(func.count()).where(Redemption.contact_id == contact_id, Redemption.item_id == item.id)
            )
            if int(had or 0) >= item.per_member_limit:
                raise LoyaltyError(
                    "per_member_limit", f"at most {item.per_member_limit} per member", field="item"
                )
        if item.stock is not None:
            t = RedemptionItem.__table__
            taken = self.session.execute(
                update(t).where(t.c.id == item.id, t.c.stock > 0).values(stock=t.c.stock - 1)
            ).rowcount
            if not taken:
                raise LoyaltyError(
                    "out_of_stock", f"catalogue item {item_key!r} is out of stock", field="item"
                )
            self.session.expire(item, ["stock"])
        spend = Ledger(self.session, now=self.now, tz=self.tz).spend(
            contact_id,
            item.points,
            reason=f"兑换 {item.name}"[:200],
            external_id=f"redeem:{ext}",
            actor=actor,
        )
        coupon_id = None
        if item.kind == "coupon" and item.coupon_template:
            try:
                coupon = CouponService(self.session, now=self.now).issue(
                    item.coupon_template, contact_id, issued_by="redemption", external_id=f"redeem:{ext}"
                )
            except CouponError as exc:  # paused, ended or exhausted: refuse the whole redemption
                raise LoyaltyError(
                    "coupon_unavailable", f"the coupon cannot be issued: {exc}", field="item"
                ) from exc
            if coupon is None:  # the template holds this member out: they paid, so refuse it all
                raise LoyaltyError(
                    "coupon_unavailable", "the coupon template holds this member out (holdout)", field="item"
                )
            coupon_id = coupon.id
        r = Redemption(
            contact_id=contact_id,
            item_id=item.id,
            points=item.points,
            spend_id=spend.id,
            coupon_id=coupon_id,
            external_id=ext,
            created_at=self.now,
        )
        self.session.add(r)
        self.session.flush()
        return r

    def redemptions(self, contact_id: int | None = None, limit: int = 100) -> list[tuple[Redemption, str]]:
        stmt = (
            select(Redemption, RedemptionItem.key)
            .join(RedemptionItem, RedemptionItem.id == Redemption.item_id)
            .order_by(Redemption.id.desc())
            .limit(limit)
        )
        if contact_id is not None:
            stmt = stmt.where(Redemption.contact_id == contact_id)
        return [(r, k) for r, k in self.session.execute(stmt).all()]
