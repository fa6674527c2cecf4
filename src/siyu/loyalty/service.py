"""Membership (开卡), earning on orders, clawing back on refunds, and tier upgrades.

Orders arrive in batches from the ingest path (helper A's ``OrderService.book``), so ``on_orders``
reads the batch's members and tiers in one query each and writes its awards, events and change
notes in bulk; one order at a time through ``Ledger.award`` would cap ingest far below 5,000
orders a second.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from siyu.loyalty.ledger import E, Ledger, brand_tz, lock_members
from siyu.loyalty.programme import MAX_POINTS, LoyaltyError, expiry_for, get_programme, validity_for_source
from siyu.loyalty.tiers import list_tiers, qualified_tier, qualifying, record_change
from siyu.store.changes import emit_events, note_changed
from siyu.store.dialect import chunked, driver_insert_ignore, storage_time
from siyu.store.models import Contact, LoyaltyMember, LoyaltyTier, Order, OrderRefund, TierChange, utcnow

log = logging.getLogger(__name__)


#: The columns an order's award is written with (the rest take their defaults).
AWARD_COLUMNS = (
    "contact_id",
    "kind",
    "points",
    "remaining",
    "status",
    "source",
    "reason",
    "external_id",
    "available_at",
    "expires_at",
    "order_id",
    "actor",
    "created_at",
    "shortfall",
)


def _insert_awards(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert awards on the driver's fastest path (SQLite executemany, PostgreSQL COPY), skipping
    any whose (kind, external_id) exists: an order earns once, without a read first."""
    stamp = storage_time(session.get_bind().dialect.name)
    times = {"available_at", "expires_at", "created_at"}
    data = [
        tuple((stamp(r[c]) if r[c] is not None else None) if c in times else r[c] for c in AWARD_COLUMNS)
        for r in rows
    ]
    driver_insert_ignore(session, "points_entries", AWARD_COLUMNS, data, "kind, external_id")


def member_no(prefix: str, contact_id: int) -> str:
    """The card number: the programme's prefix and the contact's id. Unique and race-free by
    construction (no counter two enrolments could both read), and stable across a merge."""
    return f"{prefix}{contact_id:08d}"


def order_points(paid: Decimal, earn_per_yuan: Decimal, multiplier: Decimal) -> int:
    """Points for ¥``paid``: per ¥ × tier multiplier, rounded down, capped (a mistyped ¥10¹² order
    must not overflow the ledger)."""
    if paid <= 0:
        return 0
    n = int((paid * earn_per_yuan * multiplier).to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(n, MAX_POINTS))


class LoyaltyService:
    def __init__(self, session: Session, *, now: datetime | None = None, tz: str | None = None) -> None:
        self.session = session
        self.now = now or utcnow()
        self.tz = tz or brand_tz(session)

    def ledger(self) -> Ledger:
        return Ledger(self.session, now=self.now, tz=self.tz)

    def member(self, contact_id: int) -> LoyaltyMember | None:
        return self.session.get(LoyaltyMember, contact_id)

    def enrol(
        self, contact_id: int, *, source: str | None = None, consent: bool = True, actor: str = "system"
    ) -> LoyaltyMember:
        """Open a card (开卡). Membership needs the member's agreement to the programme's terms,
        recorded in the consent ledger as purpose ``service``: being a member is a service
        relationship, so it neither needs nor grants *marketing* consent (a member who refused
        marketing still earns and spends points; sends stay governed by marketing consent).
        Enrolling an existing member returns their card unchanged."""
        lock_members(self.session, [contact_id])
        found = self.member(contact_id)
        if found is not None:
            return found
        if not consent:
            raise LoyaltyError(
                "consent_required", "enrolment needs the member's agreement to the terms", field="consent"
            )
        contact = self.session.get(Contact, contact_id)
        if contact is None or contact.merged_into_id is not None:
            raise LoyaltyError("contact_not_found", f"no contact {contact_id}", field="contact")
        if source is not None and not 0 < len(source.strip()) <= 64:
            raise LoyaltyError("invalid_source", "source: 1–64 characters", field="source")
        from siyu.consent.service import ConsentService

        ConsentService(self.session).record(
            contact_id,
            "service",
            "*",
            True,
            source="loyalty.enrol",
            evidence={"terms": "loyalty"},
            at=self.now,
            actor=actor,
        )
        prog = get_programme(self.session)
        member = LoyaltyMember(
            contact_id=contact_id,
            member_no=member_no(prog.member_no_prefix, contact_id),
            status="active",
            source=source,
            enrolled_at=self.now,
            updated_at=self.now,
            checkin_streak=0,
        )
        self.session.add(member)
        self.session.flush()
        tier = qualified_tier(list_tiers(self.session), Decimal(0))
        record_change(self.session, member, tier, "enrol", "enrolled", self.now, prog.tier_period_days)
        self.session.flush()
        emit_events(
            self.session,
            "Member Enrolled",
            [
                (
                    f"Member Enrolled:{contact_id:012d}",
                    contact_id,
                    {"member_no": member.member_no, "tier": tier.key if tier else None, "source": source},
                )
            ],
            self.now,
        )
        if prog.signup_points:
            self.ledger().award(
                contact_id,
                prog.signup_points,
                source="signup",
                reason="sign-up",
                external_id=f"signup:{contact_id}",
                actor=actor,
            )
        note_changed(self.session, [contact_id])
        self.evaluate_tiers([contact_id])
        return member

    # -- orders ----------------------------------------------------------------------------------

    def on_orders(self, orders: list[Order]) -> None:
        """Members earn on newly booked orders: per ¥ paid (``total``) × the tier's multiplier,
        pending ``pending_days`` after the order (the refund window), valid by the programme's
        ``order`` validity from when they become usable. Idempotent per order (external id
        ``order:<id>``). Non-members earn nothing."""
        orders = [o for o in orders if o.contact_id is not None and o.total is not None and o.total > 0]
        if not orders:
            return
        self.session.flush()
        prog = get_programme(self.session)
        tiers = {t.id: t for t in list_tiers(self.session)}
        cids = sorted({o.contact_id for o in orders})
        members: dict[int, int | None] = {}
        for chunk in chunked(cids):
            members.update(
                self.session.execute(
                    select(LoyaltyMember.contact_id, LoyaltyMember.tier_id).where(
                        LoyaltyMember.contact_id.in_(chunk), LoyaltyMember.status == "active"
                    )
                ).all()
            )
        if not members:
            return
        lock_members(self.session, sorted(members))
        wanted = {f"order:{o.id}": o for o in orders if o.contact_id in members}
        validity = validity_for_source(prog, "order")
        rows: list[dict[str, Any]] = []
        for ext, o in wanted.items():
            tier = tiers.get(members[o.contact_id]) if members[o.contact_id] else None
            points = order_points(
                Decimal(o.total), prog.earn_per_yuan, tier.multiplier if tier else Decimal(1)
            )
            if not points:
                continue
            # the refund window runs from the order; an order booked after it closed earns at once
            usable = max(o.ordered_at + timedelta(days=prog.pending_days), self.now)
            expires = expiry_for(validity, usable, self.tz)
            rows.append(
                {
                    "contact_id": o.contact_id,
                    "kind": "award",
                    "points": points,
                    "remaining": points,
                    "status": "pending" if usable > self.now else "active",
                    "source": "order",
                    "reason": f"order {o.order_no}"[:200],
                    "external_id": ext,
                    "available_at": usable,
                    "expires_at": expires,
                    "order_id": o.id,
                    "actor": "system",
                    "created_at": self.now,
                    "shortfall": 0,
                }
            )
        if not rows:
            return
        # Core executemany, not ORM objects: a batch holds thousands of awards, and their ids are
        # not needed (the order's external id names each award's event)
        # an order earns once: a repeat is skipped by the (kind, external_id) key (no read first),
        # and its event by its message id
        _insert_awards(self.session, rows)
        earners = sorted({r["contact_id"] for r in rows})
        emit_events(
            self.session,
            "Points Earned",
            (
                (
                    f"Points Earned:{r['contact_id']:012d}:{r['external_id']}",
                    r["contact_id"],
                    {"points": r["points"], "source": "order", "reason": r["reason"]},
                )
                for r in rows
            ),
            self.now,
        )
        active = [r["contact_id"] for r in rows if r["status"] == "active"]
        if active:
            in_debt = self.session.scalars(
                select(E.contact_id)
                .where(E.contact_id.in_(active), E.kind == "clawback", E.status == "negative")
                .distinct()
            ).all()
            ledger = self.ledger()
            for cid in in_debt:
                ledger.settle(cid)
        note_changed(self.session, earners)
        # on points, only released points count (pending ones wait for the release job)
        self.evaluate_tiers(earners if prog.tier_basis == "spend" else sorted(set(active)))

    def on_refunds(self, refunds: list[tuple[Order, OrderRefund]]) -> None:
        """Claw back an order's points in proportion to what has been refunded so far: after
        refunds totalling R of an order of T, floor(points × R / T) have been taken back in all,
        and a full refund takes everything. Each refund claws once (external id ``refund:<id>``)."""
        if not refunds:
            return
        self.session.flush()
        ledger = self.ledger()
        for order, refund in refunds:
            award = self.session.scalar(
                select(E).where(E.kind == "award", E.external_id == f"order:{order.id}")
            )
            if award is None or not order.total or order.total <= 0:
                continue
            refunded = self.session.scalar(
                select(func.coalesce(func.sum(OrderRefund.amount), 0)).where(OrderRefund.order_id == order.id)
            )
            share = min(Decimal(refunded or 0), Decimal(order.total)) / Decimal(order.total)
            target = (
                award.points
                if share >= 1
                else int((award.points * share).to_integral_value(rounding=ROUND_FLOOR))
            )
            taken = self.session.scalar(
                select(func.coalesce(func.sum(-E.points + E.shortfall), 0)).where(
                    E.kind == "clawback", E.order_id == order.id
                )
            )
            points = target - int(taken or 0)
            if points > 0:
                ledger.clawback(
                    order.contact_id,
                    points,
                    reason=f"refund of order {order.order_no}"[:200],
                    external_id=f"refund:{refund.id}",
                    order_id=order.id,
                )

    # -- tiers -----------------------------------------------------------------------------------

    def evaluate_tiers(self, contact_ids: list[int]) -> None:
        """Upgrade members who now qualify for a higher tier (never downgrades: that waits for
        the period end). Each upgrade is recorded, announced (``Tier Upgraded``) and gives the
        tier's upgrade coupon."""
        if not contact_ids:
            return
        tiers = list_tiers(self.session)
        if not tiers:
            return
        prog = get_programme(self.session)
        by_id = {t.id: t for t in tiers}
        members: dict[int, int | None] = {}
        for chunk in chunked(sorted(set(contact_ids))):
            members.update(
                self.session.execute(
                    select(LoyaltyMember.contact_id, LoyaltyMember.tier_id).where(
                        LoyaltyMember.contact_id.in_(chunk), LoyaltyMember.status == "active"
                    )
                ).all()
            )
        if not members:
            return
        figures = qualifying(self.session, list(members), self.now)
        found: list[tuple[int, LoyaltyTier | None, LoyaltyTier]] = []
        for cid, tier_id in members.items():
            best = qualified_tier(tiers, figures[cid])
            old = by_id.get(tier_id) if tier_id else None
            if best is not None and (old is None or best.rank > old.rank):
                found.append((cid, old, best))
        if not found:
            return
        # set-based: an ingest batch can upgrade thousands of members at once
        self.session.execute(
            insert(TierChange.__table__),
            [
                {
                    "contact_id": cid,
                    "from_tier_id": old.id if old else None,
                    "to_tier_id": new.id,
                    "kind": "upgrade",
                    "reason": f"qualified: {figures[cid]}",
                    "at": self.now,
                }
                for cid, old, new in found
            ],
        )
        # an upgrade is named by member, tier and moment (its event, its coupon's external id)
        stamp = self.now.strftime("%Y%m%dT%H%M%S%f")
        ids = [f"{new.key}:{stamp}" for _, _, new in found]
        review = self.now + timedelta(days=prog.tier_period_days)
        for tier in {new.id: new for _, _, new in found}.values():
            for chunk in chunked([cid for cid, _, new in found if new.id == tier.id]):
                self.session.execute(
                    update(LoyaltyMember)
                    .where(LoyaltyMember.contact_id.in_(chunk))
                    .values(tier_id=tier.id, tier_since=self.now, tier_review_at=review, updated_at=self.now)
                )
        ups = [(cid, old, new, change_id) for (cid, old, new), change_id in zip(found, ids, strict=True)]
        if not ups:
            return
        emit_events(
            self.session,
            "Tier Upgraded",
            (
                (f"Tier Upgraded:{cid:012d}:{change}", cid, {"from": old.key if old else None, "to": new.key})
                for cid, old, new, change in ups
            ),
            self.now,
        )
        for cid, _, new, change in ups:
            if new.upgrade_coupon:
                self._upgrade_coupon(new, cid, change)
        note_changed(self.session, [cid for cid, *_ in ups])

    def _upgrade_coupon(self, tier: LoyaltyTier, contact_id: int, change_id: str) -> None:
        from siyu.coupons.service import CouponService

        try:
            CouponService(self.session, now=self.now).issue(
                tier.upgrade_coupon or "",
                contact_id,
                issued_by=f"tier:{tier.key}",
                external_id=f"tier-upgrade:{contact_id}:{change_id}",
            )
        except ValueError as exc:  # a paused or missing template must not stop the order
            from siyu.audit import service as audit

            audit.record(
                self.session,
                "system",
                "upgrade_coupon.failed",
                "contact",
                contact_id,
                {"tier": tier.key, "template": tier.upgrade_coupon, "error": getattr(exc, "code", str(exc))},
            )
