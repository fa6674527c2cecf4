"""The demo members' points ledger, tier history and coupons, replayed in time order.

Each member's history is a queue of what happened to them (enrolment, orders, refunds, a
points redemption), processed in time order the way the ledger service would have processed it
live: before each step the awards whose expiry has passed expire (an ``expire`` entry drawing
what is left, at the expiry instant); a spend draws from the released, unexpired awards that
expire first; a refund claws back its order's share of that order's own (still pending) award,
voiding it when nothing is left. Upgrades happen when the points earned cross a tier's threshold
and issue that tier's coupon, which the member may use on a later order.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from siyu.store.models import (
    Coupon,
    CouponHoldout,
    CouponRedemption,
    LoyaltyMember,
    PointsDraw,
    PointsEntry,
    TierChange,
)

SIGNUP_POINTS, SIGNUP_DAYS, PENDING_DAYS, ORDER_DAYS = 100, 30, 7, 365
SPEND_CHOICES = (50, 100, 200)
CAMPAIGN_DAYS_BEFORE_END, HOLDOUT, REDEEM = 30, 0.10, 0.6


@dataclass
class Rows:
    """Rows to insert, per model, with ids assigned as they are made."""

    next_id: dict[str, int]
    rows: dict[type, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def add(self, model: type, **values: Any) -> int:
        table = model.__tablename__  # type: ignore[attr-defined]
        self.next_id[table] += 1
        values.setdefault("id", self.next_id[table])
        self.rows[model].append(values)
        return int(values["id"])


@dataclass
class Award:
    id: int
    points: int
    remaining: int
    available_at: datetime
    expires_at: datetime
    row: dict[str, Any]


def entry(out: Rows, contact: int, kind: str, points: int, at: datetime, **more: Any) -> int:
    """A points entry with every column given (one key set for the bulk insert)."""
    values = {
        "contact_id": contact,
        "kind": kind,
        "points": points,
        "remaining": 0,
        "status": "done",
        "source": kind,
        "reason": kind,
        "external_id": None,
        "available_at": None,
        "expires_at": None,
        "order_id": None,
        "related_id": None,
        "notified_at": None,
        "actor": "demo",
        "created_at": at,
    } | more
    return out.add(PointsEntry, **values)


class Member:
    """One member's replay."""

    def __init__(self, out: Rows, contact: int, tiers: dict[str, dict[str, Any]], end: datetime) -> None:
        self.out, self.contact, self.end = out, contact, end
        self.tiers = sorted(tiers.values(), key=lambda t: t["rank"])
        self.awards: list[Award] = []
        self.by_order: dict[int, Award] = {}
        self.earned = 0
        self.tier: dict[str, Any] | None = None
        self.tier_since: datetime | None = None
        self.coupons: list[tuple[str, datetime]] = []  # upgrade coupons: (tier key, issued at)

    def _draw(self, entry_id: int, award: Award, points: int) -> None:
        award.remaining -= points
        award.row["remaining"] = award.remaining
        self.out.add(PointsDraw, contact_id=self.contact, entry_id=entry_id, award_id=award.id, points=points)

    def expire_until(self, at: datetime) -> None:
        for a in sorted(self.awards, key=lambda a: (a.expires_at, a.id)):
            if a.expires_at <= at and a.remaining > 0 and a.row["status"] not in ("voided", "expired"):
                eid = entry(
                    self.out,
                    self.contact,
                    "expire",
                    -a.remaining,
                    a.expires_at,
                    source="expiry",
                    reason="expired",
                    related_id=a.id,
                )
                self._draw(eid, a, a.remaining)
                a.row["status"] = "expired"

    def award(
        self,
        points: int,
        at: datetime,
        days: int,
        *,
        source: str,
        reason: str,
        external_id: str,
        order_id: int | None = None,
        pending: bool = False,
    ) -> None:
        available = at + timedelta(days=PENDING_DAYS) if pending else at
        eid = entry(
            self.out,
            self.contact,
            "award",
            points,
            at,
            remaining=points,
            status="active",
            source=source,
            reason=reason,
            external_id=external_id,
            available_at=available,
            expires_at=at + timedelta(days=days),
            order_id=order_id,
        )
        row = self.out.rows[PointsEntry][-1]
        award = Award(eid, points, points, available, at + timedelta(days=days), row)
        self.awards.append(award)
        if order_id is not None:
            self.by_order[order_id] = award
        self.earned += points
        self._qualify(at)

    def _qualify(self, at: datetime) -> None:
        reached = [t for t in self.tiers if t["threshold"] <= self.earned]
        best = reached[-1] if reached else self.tiers[0]
        if self.tier is not None and best["rank"] <= self.tier["rank"]:
            return
        kind = "enrol" if self.tier is None else "upgrade"
        self.out.add(
            TierChange,
            contact_id=self.contact,
            from_tier_id=self.tier["id"] if self.tier else None,
            to_tier_id=best["id"],
            kind=kind,
            reason="points earned" if kind == "upgrade" else "enrolled",
            at=at,
        )
        self.tier, self.tier_since = best, at
        if kind == "upgrade" and best["coupon"]:
            self.coupons.append((best["coupon"], at))

    def clawback(
        self, order_id: int, refund_id: int, share: Decimal, total: Decimal, at: datetime, no: str
    ) -> None:
        award = self.by_order.get(order_id)
        if award is None or total <= 0:
            return
        take = (
            award.points
            if share >= total
            else int((award.points * share / total).to_integral_value(ROUND_FLOOR))
        )
        take = min(take, award.remaining)
        if take <= 0:
            return
        eid = entry(
            self.out,
            self.contact,
            "clawback",
            -take,
            at,
            source="refund",
            reason=f"refund of order {no}",
            external_id=f"refund:{refund_id}",
            order_id=order_id,
            related_id=award.id,
        )
        self._draw(eid, award, take)
        self.earned -= take
        if award.remaining == 0 and award.available_at > at:
            award.row["status"] = "voided"

    def spend(self, wanted: int, at: datetime, n: int) -> None:
        usable = sorted(
            (
                a
                for a in self.awards
                if a.available_at <= at < a.expires_at
                and a.remaining > 0
                and a.row["status"] not in ("voided", "expired")
            ),
            key=lambda a: (a.expires_at, a.id),
        )
        balance = sum(a.remaining for a in usable)
        fits = [p for p in SPEND_CHOICES if p <= min(wanted, balance)]
        if not fits:
            return
        points = fits[-1]
        eid = entry(
            self.out,
            self.contact,
            "spend",
            -points,
            at,
            source="spend",
            reason="积分兑换",
            external_id=f"demo-spend:{self.contact}:{n}",
        )
        left = points
        for a in usable:
            if left == 0:
                break
            take = min(left, a.remaining)
            self._draw(eid, a, take)
            left -= take

    def finish(self) -> None:
        self.expire_until(self.end)
        for a in self.awards:
            if a.row["status"] == "active" and a.available_at > self.end:
                a.row["status"] = "pending"


def replay(
    out: Rows,
    members: list[dict[str, Any]],
    by_contact: dict[int, list[dict[str, Any]]],
    tiers: dict[str, dict[str, Any]],
    templates: dict[str, dict[str, Any]],
    end: datetime,
    rng: Any,
) -> None:
    """Every member's ledger, tier history, card row and upgrade coupons."""
    draws = rng.random((len(members), 3))
    for i, m in enumerate(members):
        cid, enrolled = m["contact_id"], m["enrolled_at"]
        member = Member(out, cid, tiers, end)
        steps: list[tuple[datetime, int, str, Any]] = [(enrolled, 0, "enrol", None)]
        for o in by_contact.get(cid, []):
            if o["at"] >= enrolled:
                steps.append((o["at"], 1, "order", o))
                if o["refund"] is not None:
                    steps.append((o["refund"][2], 2, "refund", o))
        if draws[i, 0] < 0.35:
            steps.append(
                (enrolled + (end - enrolled) * float(draws[i, 1]), 3, "spend", int(draws[i, 2] * 250))
            )
        for at, _, what, data in sorted(steps, key=lambda s: (s[0], s[1])):
            if at >= end:
                continue
            member.expire_until(at)
            if what == "enrol":
                member.award(
                    SIGNUP_POINTS,
                    at,
                    SIGNUP_DAYS,
                    source="signup",
                    reason="sign-up",
                    external_id=f"signup:{cid}",
                )
            elif what == "order":
                mult = member.tier["multiplier"] if member.tier else Decimal(1)
                points = int((data["total"] * mult).to_integral_value(ROUND_FLOOR))
                if points > 0:
                    member.award(
                        points,
                        at,
                        ORDER_DAYS,
                        source="order",
                        reason=f"order {data['row']['order_no']}",
                        external_id=f"order:{data['id']}",
                        order_id=data["id"],
                        pending=True,
                    )
            elif what == "refund":
                rid, amount, _ = data["refund"]
                member.clawback(data["id"], rid, amount, data["total"], at, data["row"]["order_no"])
            else:
                member.spend(data, at, i)
        member.finish()
        tier = member.tier
        out.rows[LoyaltyMember].append(
            {
                "contact_id": cid,
                "member_no": m["member_no"],
                "status": "active",
                "source": "mini-program",
                "tier_id": tier["id"] if tier else None,
                "tier_since": member.tier_since,
                "tier_review_at": member.tier_since + timedelta(days=365) if member.tier_since else None,
                "birthday": None,
                "birthday_year": None,
                "checkin_streak": 0,
                "last_checkin_day": None,
                "enrolled_at": enrolled,
                "updated_at": end,
            }
        )
        for key, at in member.coupons:
            issue(out, templates[key], cid, at, end, by_contact.get(cid, []), rng, f"tier:{key}")


def issue(
    out: Rows,
    template: dict[str, Any],
    contact: int,
    at: datetime,
    end: datetime,
    orders: list[dict[str, Any]],
    rng: Any,
    issued_by: str,
) -> None:
    """One coupon; redeemed on the contact's next unrefunded order while valid (with chance
    ``REDEEM``), else expired or still held."""
    expires = at + timedelta(days=template["days"])
    row = {
        "template_id": template["id"],
        "code": "",
        "contact_id": contact,
        "status": "issued",
        "issued_by": issued_by,
        "external_id": None,
        "issued_at": at,
        "valid_from": at,
        "expires_at": expires,
        "redeemed_at": None,
        "order_source": None,
        "order_no": None,
        "discount": None,
        "created_at": at,
    }
    cid = out.add(Coupon, **row)
    coupon = out.rows[Coupon][-1]
    coupon["code"] = f"{template['prefix']}{cid:08d}"
    coupon["external_id"] = f"{issued_by}:{contact}:{cid}"
    use = next(
        (o for o in orders if at < o["at"] < min(expires, end) and o["refund"] is None and not o["coupon"]),
        None,
    )
    if use is not None and rng.random() < REDEEM:
        off = min(template["off"], use["total"])
        use["coupon"] = True
        use["row"].update(coupon_code=coupon["code"], discount=off)
        coupon.update(
            status="redeemed",
            redeemed_at=use["at"],
            order_source=use["row"]["source"],
            order_no=use["row"]["order_no"],
            discount=off,
        )
        out.add(
            CouponRedemption,
            coupon_id=cid,
            template_id=template["id"],
            contact_id=contact,
            code=coupon["code"],
            order_source=use["row"]["source"],
            order_no=use["row"]["order_no"],
            order_amount=use["total"],
            discount=off,
            status="succeeded",
            reason=None,
            device=None,
            details={},
            at=use["at"],
        )
    elif expires <= end:
        coupon["status"] = "expired"


def campaign(
    out: Rows,
    members: list[dict[str, Any]],
    by_contact: dict[int, list[dict[str, Any]]],
    template: dict[str, Any],
    end: datetime,
    rng: Any,
) -> None:
    """The spring campaign: members enrolled by its day get a coupon, 10% are held out."""
    at = (end - timedelta(days=CAMPAIGN_DAYS_BEFORE_END)).replace(hour=2, minute=0, second=0, microsecond=0)
    for m in members:
        if m["enrolled_at"] >= at:
            continue
        if rng.random() < HOLDOUT:
            out.rows[CouponHoldout].append(
                {
                    "template_id": template["id"],
                    "contact_id": m["contact_id"],
                    "issued_by": "journey:spring",
                    "at": at,
                }
            )
            continue
        issue(
            out,
            template,
            m["contact_id"],
            at,
            end,
            by_contact.get(m["contact_id"], []),
            rng,
            "journey:spring",
        )
