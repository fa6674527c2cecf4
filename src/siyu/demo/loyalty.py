"""The demo brand's orders, membership, points ledger and coupons (issue 17).

Every ``Order Completed`` event of the demo becomes an order (one product line; ``order_id`` its
order number), a few are refunded (whole or in part). About half the buyers and some browsers
are members (开卡) of a three-tier programme (普通会员 / 银卡 / 金卡, on points earned): each member
gets sign-up points (valid 30 days), points per ¥ on every order after enrolment (pending for the
7-day refund window, valid a year), upgrades as soon as the points earned cross a threshold
(with an upgrade coupon), spends some points, and loses what expires. A spring campaign gives
members a ¥5 coupon, holding 10% out to measure the lift.

The ledger is written as the ledger service would leave it (model docstrings, ``siyu loyalty
verify``): an award keeps what is ``remaining``; every spend, expiry and clawback draws from
awards through ``points_draws`` (spends from the earliest-expiring released awards, expiries
at the award's expiry, a refund's clawback from its own order's award, voiding a pending award
it empties). Each member's history is replayed in time order, so nothing is spent before it is
released or after it expired.

Deterministic: one seed, rows in a fixed order, ids assigned here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.demo.ledger import HOLDOUT, PENDING_DAYS, SIGNUP_DAYS, SIGNUP_POINTS, Rows, campaign, replay
from siyu.store.bulk import max_id, sync_sequence
from siyu.store.models import (
    Contact,
    Coupon,
    CouponHoldout,
    CouponRedemption,
    CouponTemplate,
    LoyaltyMember,
    LoyaltyProgramme,
    LoyaltyTier,
    Order,
    OrderLine,
    OrderRefund,
    PointsDraw,
    PointsEntry,
    TierChange,
)

#: (key, name, English name, rank, points earned to reach, multiplier, upgrade coupon)
TIERS = (
    ("normal", "普通会员", "Member", 0, 0, "1.0", None),
    ("silver", "银卡", "Silver", 1, 200, "1.2", "silver_upgrade"),
    ("gold", "金卡", "Gold", 2, 600, "1.5", "gold_upgrade"),
)
#: (key, name, ¥ off, valid days)
TEMPLATES = (
    ("spring5", "春季回购券（无门槛减5元）", 5, 30),
    ("silver_upgrade", "银卡升级礼（减10元）", 10, 30),
    ("gold_upgrade", "金卡升级礼（减20元）", 20, 30),
)
MENU = (
    ("P-grape", "多肉葡萄", "果茶"),
    ("P-cheese", "芝芝莓莓", "果茶"),
    ("P-milk", "烤黑糖波波牛乳", "奶茶"),
    ("P-jasmine", "茉莉初雪", "纯茶"),
    ("P-coffee", "生椰拿铁", "咖啡"),
    ("P-bread", "欧包", "烘焙"),
)
#: order source by the buyer's first channel kind (others order on the mini-program)
SOURCES = {"store": "store", "taobao": "taobao", "douyin": "douyin", "app": "app"}
CENT = Decimal("0.01")


def order_rows(events: pl.DataFrame, contacts: pl.DataFrame, channel_kinds: dict[int, str]) -> pl.DataFrame:
    """A chunk's orders from its ``Order Completed`` events (contact ids as written, before merges)."""
    orders = events.filter(pl.col("event") == "Order Completed")
    kinds = contacts.select(
        pl.col("id").alias("contact_id"),
        pl.col("first_channel_id")
        .replace_strict(channel_kinds, default="", return_dtype=pl.String)
        .alias("kind"),
    )
    return orders.join(kinds, on="contact_id", how="left").select(
        "contact_id",
        "timestamp",
        "message_id",
        pl.col("properties").str.json_path_match("$.order_id").alias("order_no"),
        pl.col("properties").str.json_path_match("$.amount").cast(pl.Float64).alias("amount"),
        pl.col("properties").str.json_path_match("$.items").cast(pl.Int64).alias("items"),
        pl.col("kind").fill_null(""),
    )


def load(
    ctx: Any, orders: pl.DataFrame, channel_ids: dict[str, int], end: datetime, seed: int
) -> dict[str, int]:
    """Write the programme, orders, members, ledger and coupons of the demo brand."""
    engine = ctx.db.engine
    rng = np.random.default_rng(seed + 1017)
    with ctx.db.session() as s:
        merged = dict(
            s.execute(
                select(Contact.id, Contact.merged_into_id).where(Contact.merged_into_id.is_not(None))
            ).all()
        )
        live = [
            int(c)
            for c in s.scalars(
                select(Contact.id).where(Contact.merged_into_id.is_(None)).order_by(Contact.id)
            )
        ]
        created = dict(s.execute(select(Contact.id, Contact.created_at)).all())
        tiers, templates = _setup(s)
        s.commit()
    tables = (
        "orders",
        "order_lines",
        "order_refunds",
        "points_entries",
        "points_draws",
        "tier_changes",
        "coupons",
        "coupon_redemptions",
    )
    out = Rows({t: max_id(engine, t) for t in tables})
    by_contact = _orders(out, orders, merged, channel_ids, end, rng)
    members = _members(live, by_contact, created, end, rng)
    replay(out, members, by_contact, tiers, templates, end, rng)
    campaign(out, members, by_contact, templates["spring5"], end, rng)
    with ctx.db.session() as s:
        for model in (
            Order,
            OrderLine,
            OrderRefund,
            LoyaltyMember,
            TierChange,
            PointsEntry,
            PointsDraw,
            Coupon,
            CouponRedemption,
            CouponHoldout,
        ):
            rows = out.rows.get(model, [])
            for i in range(0, len(rows), 20_000):
                s.execute(model.__table__.insert(), rows[i : i + 20_000])  # Core: one executemany
        _template_counters(s, out.rows.get(Coupon, []))
        s.commit()
    for t in tables:
        sync_sequence(engine, t)
    return {
        "orders": len(out.rows[Order]),
        "refunds": len(out.rows[OrderRefund]),
        "members": len(out.rows[LoyaltyMember]),
        "points_entries": len(out.rows[PointsEntry]),
        "coupons": len(out.rows[Coupon]),
    }


def _template_counters(s: Session, coupons: list[dict[str, Any]]) -> None:
    """Templates that keep counters of coupons issued and discount spent (for the issue limit and
    the budget) get the demo's, so the coupon service's checks start from the truth."""
    counters = {"issued": defaultdict(int), "spent": defaultdict(Decimal)}
    for c in coupons:
        counters["issued"][c["template_id"]] += 1
        counters["spent"][c["template_id"]] += c["discount"] or Decimal(0)
    for template in s.scalars(select(CouponTemplate)):
        for name, values in counters.items():
            if hasattr(CouponTemplate, name):  # columns of the coupon service's migration
                setattr(template, name, values.get(template.id, 0))


def _setup(s: Session) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The programme, its tiers and the coupon templates (ORM rows; plain values returned)."""
    s.add(
        LoyaltyProgramme(
            name="茶饮会员积分",
            point_value=Decimal("0.01"),
            earn_per_yuan=Decimal(1),
            signup_points=SIGNUP_POINTS,
            pending_days=PENDING_DAYS,
            default_validity="1Y",
            validity_by_source={"signup": f"{SIGNUP_DAYS}D", "order": "1Y"},
            tier_basis="points",
            tier_window_days=365,
            tier_period_days=365,
            downgrade_policy="one_down",
            expiry_notice_days=30,
        )
    )
    tiers = {}
    for key, name, en, rank, threshold, mult, coupon in TIERS:
        tiers[key] = LoyaltyTier(
            key=key,
            name=name,
            name_en=en,
            rank=rank,
            threshold=Decimal(threshold),
            multiplier=Decimal(mult),
            upgrade_coupon=coupon,
        )
    templates = {}
    for key, name, off, days in TEMPLATES:
        templates[key] = CouponTemplate(
            key=key,
            name=name,
            kind="fixed",
            amount=Decimal(off),
            valid_days=days,
            holdout_percent=int(HOLDOUT * 100) if key == "spring5" else 0,
            refund_rule="restore",
            code_prefix=key[:2].upper(),
        )
    s.add_all([*tiers.values(), *templates.values()])
    s.flush()
    return (
        {
            k: {
                "id": t.id,
                "key": k,
                "rank": t.rank,
                "threshold": int(t.threshold),
                "multiplier": t.multiplier,
                "coupon": t.upgrade_coupon,
            }
            for k, t in tiers.items()
        },
        {
            k: {"id": t.id, "off": t.amount, "days": t.valid_days, "prefix": t.code_prefix}
            for k, t in templates.items()
        },
    )


def _at(value: Any) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- orders ------------------------------------------------------------------------------------------
def _orders(
    out: Rows,
    frame: pl.DataFrame,
    merged: dict[int, int],
    channel_ids: dict[str, int],
    end: datetime,
    rng: Any,
) -> dict[int, list[dict[str, Any]]]:
    """Order, line and refund rows; per contact (the merge survivor) its orders in time order."""
    by_contact: dict[int, list[dict[str, Any]]] = defaultdict(list)
    frame = frame.sort("timestamp", "message_id")
    picks = rng.integers(0, len(MENU), frame.height)
    refund_draw = rng.random(frame.height)
    refund_delay = rng.uniform(0.5, 6.5, frame.height)
    for i, r in enumerate(frame.iter_rows(named=True)):
        contact = merged.get(r["contact_id"], r["contact_id"])
        at = _at(r["timestamp"])
        total = Decimal(str(r["amount"])).quantize(CENT)
        items = max(1, int(r["items"] or 1))
        source = SOURCES.get(r["kind"], "mini-program")
        row = {
            "contact_id": contact,
            "source": source,
            "channel_id": channel_ids.get(source),
            "order_no": r["order_no"],
            "status": "completed",
            "currency": "CNY",
            "total": total,
            "revenue": total,
            "discount": Decimal(0),
            "shipping": Decimal(0),
            "tax": Decimal(0),
            "refunded": Decimal(0),
            "coupon_code": None,
            "message_id": r["message_id"],
            "properties": {},
            "ordered_at": at,
            "created_at": at,
            "updated_at": at,
        }
        oid = out.add(Order, **row)
        row = out.rows[Order][-1]  # the stored dict: refunds and coupons update it below
        product, name, category = MENU[int(picks[i])]
        out.add(
            OrderLine,
            order_id=oid,
            contact_id=contact,
            position=0,
            product_id=product,
            sku=product,
            name=name,
            category=category,
            price=(total / items).quantize(CENT),
            quantity=items,
            refunded_quantity=0,
        )
        order = {"id": oid, "at": at, "total": total, "row": row, "refund": None, "coupon": False}
        refund_at = at + timedelta(days=float(refund_delay[i]))
        if refund_draw[i] < 0.05 and refund_at < end and total > 0:
            amount = total if refund_draw[i] < 0.03 else (total / 2).quantize(CENT)
            rid = out.add(
                OrderRefund,
                order_id=oid,
                contact_id=contact,
                refund_no=f"RF-{r['order_no']}",
                amount=amount,
                lines=[],
                reason="顾客取消" if amount == total else "部分退款",
                message_id=None,
                refunded_at=refund_at,
                created_at=refund_at,
            )
            row.update(refunded=amount, status="refunded" if amount == total else "partially_refunded")
            row["updated_at"] = refund_at
            order["refund"] = (rid, amount, refund_at)
        by_contact[contact].append(order)
    for orders in by_contact.values():
        orders.sort(key=lambda o: (o["at"], o["id"]))
    return by_contact


# --- members -----------------------------------------------------------------------------------------
def _members(
    live: list[int],
    by_contact: dict[int, list[dict[str, Any]]],
    created: dict[int, datetime],
    end: datetime,
    rng: Any,
) -> list[dict[str, Any]]:
    """Who enrols, and when: most buyers around their first order, some later, a few browsers."""
    members = []
    draws = rng.random((len(live), 3))
    for i, cid in enumerate(live):
        first = by_contact[cid][0]["at"] if by_contact.get(cid) else None
        if draws[i, 0] >= (0.6 if first else 0.08):
            continue
        born = _at(created[cid])
        if first is not None:
            at = (
                first - timedelta(minutes=5)
                if draws[i, 1] < 0.7
                else first + timedelta(days=20 * draws[i, 2])
            )
            at = max(born, min(at, end - timedelta(minutes=1)))
        else:
            at = born + (end - born) * float(draws[i, 2])
        members.append({"contact_id": cid, "enrolled_at": at, "member_no": f"M{len(members) + 1:07d}"})
    return members
