"""Subscriptions (周期购): plans, subscribing, pause / resume / cancel, failed payments and the
renewal job.

Every delivery is an order booked through :meth:`OrderService.book` (source ``subscription``,
order number ``<subscription id>-<n>``), so points and coupons apply to renewals as to any order
and a renewal job run twice books each delivery once. The first delivery is due when the
subscription starts; each later one ``interval_days`` after the one before. Policies (documented
in docs/orders.md):

- pausing stops the clock: on resume the next renewal moves later by the time spent paused;
- a failed payment (``fail``) counts against the subscription; ``max_failures`` in a row end it as
  ``failed``; a renewal that goes through resets the count;
- ``Subscription Renewal Due`` is sent ``remind_days`` before each renewal, once per renewal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.commerce.schemas import CommerceError, CommerceNotFound, LineIn, OrderIn, money, source_key, text
from siyu.commerce.service import OrderService
from siyu.store.changes import emit_events, note_changed
from siyu.store.models import Subscription, SubscriptionPlan, utcnow

#: Failed payments in a row that end a subscription.
MAX_FAILURES = 3
#: Subscriptions renewed per job round (a round takes the next ones on its next run).
RENEW_BATCH = 5_000
ORDER_SOURCE = "subscription"
STATUSES = ("active", "paused", "cancelled", "ended", "failed")


class SubscriptionError(CommerceError):
    code = "subscription_error"


class SubscriptionService:
    def __init__(
        self,
        session: Session,
        *,
        now: datetime | None = None,
        tz: str = "Asia/Shanghai",
        max_failures: int = MAX_FAILURES,
    ) -> None:
        self.session = session
        self.now = now or utcnow()
        self.tz = tz
        self.max_failures = max_failures

    # --- plans --------------------------------------------------------------------------------
    def create_plan(
        self,
        key: str,
        name: str,
        price: Any,
        interval_days: int,
        *,
        periods: int | None = None,
        remind_days: int = 3,
        source: str = "mini_program",
        product_id: str | None = None,
        actor: str = "system",
    ) -> SubscriptionPlan:
        key = source_key(key, "key")
        if self.session.scalar(select(SubscriptionPlan).where(SubscriptionPlan.key == key)) is not None:
            raise SubscriptionError("key", f"a plan {key!r} already exists", "plan_exists")
        plan = SubscriptionPlan(key=key, active=True, created_at=self.now)
        self._apply(plan, name, price, interval_days, periods, remind_days, source, product_id)
        self.session.add(plan)
        self.session.flush()
        audit.record(
            self.session, actor, "subscription_plan.created", "subscription_plan", plan.id, {"key": key}
        )
        return plan

    def update_plan(self, key: str, *, actor: str = "system", **changes: Any) -> SubscriptionPlan:
        """Change some of a plan's fields (name, price, interval_days, periods, remind_days,
        source, product_id, active); running subscriptions take the new price at their next
        renewal."""
        plan = self.plan(key)
        unknown = set(changes) - {
            "name", "price", "interval_days", "periods", "remind_days", "source", "product_id", "active",
        }  # fmt: skip
        if unknown:
            raise SubscriptionError(sorted(unknown)[0], "is not a field of a plan", "unknown_field")
        if "active" in changes:
            plan.active = bool(changes.pop("active"))
        merged = {
            "name": plan.name,
            "price": plan.price,
            "interval_days": plan.interval_days,
            "periods": plan.periods,
            "remind_days": plan.remind_days,
            "source": plan.source,
            "product_id": plan.product_id,
            **changes,
        }
        self._apply(plan, **merged)
        audit.record(
            self.session, actor, "subscription_plan.updated", "subscription_plan", plan.id, {"key": key}
        )
        return plan

    @staticmethod
    def _apply(
        plan: SubscriptionPlan,
        name: Any,
        price: Any,
        interval_days: Any,
        periods: Any,
        remind_days: Any,
        source: Any,
        product_id: Any,
    ) -> None:
        plan.name = text(name, "name", 200, required=True) or ""
        plan.price = money(price, "price", required=True, positive=True) or Decimal(0)
        plan.interval_days = _whole(interval_days, "interval_days", 1, 3650)
        plan.periods = None if periods in (None, "") else _whole(periods, "periods", 1, 10_000)
        plan.remind_days = _whole(remind_days, "remind_days", 0, plan.interval_days)
        plan.source = source_key(source, "source")
        plan.product_id = text(product_id, "product_id", 128)

    def plan(self, key: str) -> SubscriptionPlan:
        plan = self.session.scalar(select(SubscriptionPlan).where(SubscriptionPlan.key == key))
        if plan is None:
            raise CommerceNotFound("plan", f"no subscription plan {key!r}", "plan_not_found")
        return plan

    def plans(self) -> list[SubscriptionPlan]:
        return list(self.session.scalars(select(SubscriptionPlan).order_by(SubscriptionPlan.id)))

    def counts_by_plan(self) -> dict[tuple[int, str], int]:
        rows = self.session.execute(
            select(Subscription.plan_id, Subscription.status, func.count()).group_by(
                Subscription.plan_id, Subscription.status
            )
        )
        return {(pid, status): int(n) for pid, status, n in rows}

    # --- one subscription ---------------------------------------------------------------------
    def subscribe(
        self,
        contact_id: int,
        plan_key: str,
        *,
        external_id: str | None = None,
        start_at: datetime | None = None,
        actor: str = "system",
    ) -> Subscription:
        """Subscribe a contact; a repeated ``external_id`` returns the first subscription. The
        first delivery is due at ``start_at`` (default now)."""
        external_id = text(external_id, "external_id", 128)
        if external_id is not None:
            found = self.session.scalar(select(Subscription).where(Subscription.external_id == external_id))
            if found is not None:
                return found
        plan = self.plan(plan_key)
        if not plan.active:
            raise SubscriptionError("plan", f"plan {plan_key!r} is retired", "plan_inactive")
        start = start_at or self.now
        sub = Subscription(
            contact_id=contact_id,
            plan_id=plan.id,
            external_id=external_id,
            status="active",
            started_at=start,
            next_renewal_at=start,
            renewals=0,
            failures=0,
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(sub)
        self.session.flush()
        self._event("Subscription Started", sub, "started", {"plan": plan.key})
        audit.record(self.session, actor, "subscription.created", "subscription", sub.id, {"plan": plan.key})
        return sub

    def get(self, subscription_id: int) -> Subscription:
        # an id no column can hold is no subscription (never the database driver's overflow)
        sub = self.session.get(Subscription, subscription_id) if 0 < subscription_id < 2**63 else None
        if sub is None:
            raise CommerceNotFound(
                "subscription", f"no subscription {subscription_id}", "subscription_not_found"
            )
        return sub

    def search(
        self,
        *,
        status: str | None = None,
        contact_id: int | None = None,
        plan: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Subscription]:
        stmt = select(Subscription).order_by(Subscription.id.desc()).limit(limit).offset(offset)
        if status:
            stmt = stmt.where(Subscription.status == status)
        if contact_id is not None:
            stmt = stmt.where(Subscription.contact_id == contact_id)
        if plan:
            stmt = stmt.where(Subscription.plan_id == self.plan(plan).id)
        return list(self.session.scalars(stmt))

    def pause(self, subscription_id: int, *, actor: str = "system") -> Subscription:
        sub = self._in(subscription_id, "pause", "active")
        sub.status, sub.paused_at, sub.updated_at = "paused", self.now, self.now
        self._event("Subscription Paused", sub, f"paused:{self.now.isoformat()}", {})
        audit.record(self.session, actor, "subscription.paused", "subscription", sub.id, {})
        return sub

    def resume(self, subscription_id: int, *, actor: str = "system") -> Subscription:
        sub = self._in(subscription_id, "resume", "paused")
        if sub.paused_at is not None and sub.next_renewal_at is not None:
            sub.next_renewal_at = sub.next_renewal_at + max(self.now - sub.paused_at, timedelta(0))
        sub.status, sub.paused_at, sub.updated_at = "active", None, self.now
        self._event("Subscription Resumed", sub, f"resumed:{self.now.isoformat()}", {})
        audit.record(self.session, actor, "subscription.resumed", "subscription", sub.id, {})
        return sub

    def cancel(
        self, subscription_id: int, *, reason: str | None = None, actor: str = "system"
    ) -> Subscription:
        sub = self._in(subscription_id, "cancel", "active", "paused")
        reason = text(reason, "reason", 200)
        sub.status, sub.cancelled_at, sub.cancel_reason = "cancelled", self.now, reason
        sub.next_renewal_at, sub.updated_at = None, self.now
        self._event("Subscription Cancelled", sub, "cancelled", {"reason": reason})
        audit.record(
            self.session, actor, "subscription.cancelled", "subscription", sub.id, {"reason": reason}
        )
        return sub

    def fail(self, subscription_id: int, *, reason: str | None = None, actor: str = "system") -> Subscription:
        """Record a failed renewal payment; ``max_failures`` in a row end the subscription."""
        sub = self._in(subscription_id, "record a failed payment on", "active")
        reason = text(reason, "reason", 200)
        sub.failures += 1
        sub.updated_at = self.now
        props: dict[str, Any] = {"failures": sub.failures, "reason": reason}
        if sub.failures >= self.max_failures:
            sub.status, sub.next_renewal_at = "failed", None
            props["final"] = True
        self._event("Subscription Renewal Failed", sub, f"failed:{sub.renewals + 1}:{sub.failures}", props)
        audit.record(self.session, actor, "subscription.failed", "subscription", sub.id, props)
        return sub

    def _in(self, subscription_id: int, verb: str, *statuses: str) -> Subscription:
        sub = self.get(subscription_id)
        if sub.status not in statuses:
            msg = f"cannot {verb} subscription {sub.id}: it is {sub.status}"
            raise SubscriptionError("status", msg, "bad_status")
        return sub

    def _event(self, name: str, sub: Subscription, suffix: str, props: dict[str, Any]) -> None:
        mid = f"subscription:{sub.contact_id:012d}:{sub.id}:{suffix}"
        emit_events(self.session, name, [(mid, sub.contact_id, {"subscription": sub.id, **props})], self.now)
        note_changed(self.session, [sub.contact_id])

    # --- the job ------------------------------------------------------------------------------
    def run(self, limit: int = RENEW_BATCH) -> dict[str, int]:
        """Book the due renewals (catching up missed periods) and send the reminders due."""
        plans = {p.id: p for p in self.plans()}
        due = list(
            self.session.scalars(
                select(Subscription)
                .where(Subscription.status == "active", Subscription.next_renewal_at <= self.now)
                .order_by(Subscription.next_renewal_at, Subscription.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        orders: list[OrderIn] = []
        renewed: list[tuple[Subscription, int]] = []
        ended = 0
        for sub in due:
            plan = plans[sub.plan_id]
            while sub.next_renewal_at is not None and sub.next_renewal_at <= self.now:
                n = sub.renewals + 1
                orders.append(_renewal_order(sub, plan, n))
                renewed.append((sub, n))
                sub.renewals, sub.failures = n, 0
                if plan.periods is not None and n >= plan.periods:
                    sub.status, sub.next_renewal_at = "ended", None
                    ended += 1
                else:
                    sub.next_renewal_at = sub.next_renewal_at + timedelta(days=plan.interval_days)
            sub.updated_at = self.now
        result = OrderService(self.session, now=self.now, tz=self.tz).book(orders)
        rows = [
            (
                f"subscription:{sub.contact_id:012d}:{sub.id}:renewed:{n}",
                sub.contact_id,
                {
                    "subscription": sub.id,
                    "plan": plans[sub.plan_id].key,
                    "renewal": n,
                    "order_id": f"{sub.id}-{n}",
                },
            )
            for sub, n in renewed
        ]
        emit_events(self.session, "Subscription Renewed", rows, self.now)
        reminded = self._remind(plans)
        note_changed(self.session, {sub.contact_id for sub in due})
        return {
            "renewed": len(renewed),
            "orders_booked": len(result.booked),
            "ended": ended,
            "reminded": reminded,
        }

    def _remind(self, plans: dict[int, SubscriptionPlan]) -> int:
        """``Subscription Renewal Due`` for each active subscription whose renewal is within its
        plan's ``remind_days``, once per renewal (``reminded_for`` keeps which)."""
        horizon = self.now + timedelta(days=max((p.remind_days for p in plans.values()), default=0))
        candidates = self.session.scalars(
            select(Subscription).where(
                Subscription.status == "active",
                Subscription.next_renewal_at > self.now,
                Subscription.next_renewal_at <= horizon,
            )
        )
        rows = []
        for sub in candidates:
            plan = plans[sub.plan_id]
            assert sub.next_renewal_at is not None
            if plan.remind_days <= 0 or sub.next_renewal_at - self.now > timedelta(days=plan.remind_days):
                continue
            if sub.reminded_for is not None and sub.reminded_for == sub.next_renewal_at:
                continue
            sub.reminded_for = sub.next_renewal_at
            days = max(0, (sub.next_renewal_at - self.now).days)
            props = {
                "subscription": sub.id,
                "plan": plan.key,
                "days": days,
                "renewal_at": sub.next_renewal_at.isoformat(),
                "renewal": sub.renewals + 1,
            }
            rows.append(
                (f"subscription:{sub.contact_id:012d}:{sub.id}:due:{sub.renewals + 1}", sub.contact_id, props)
            )
        emit_events(self.session, "Subscription Renewal Due", rows, self.now)
        return len(rows)


def _renewal_order(sub: Subscription, plan: SubscriptionPlan, n: int) -> OrderIn:
    assert sub.next_renewal_at is not None
    return OrderIn(
        source=ORDER_SOURCE,
        order_no=f"{sub.id}-{n}",
        contact_id=sub.contact_id,
        total=plan.price,
        ordered_at=sub.next_renewal_at,
        revenue=plan.price,
        lines=[LineIn(product_id=plan.product_id, name=plan.name, price=plan.price, quantity=1)],
        subscription_id=sub.id,
        properties={"plan": plan.key, "renewal": n, "sold_on": plan.source},
    )


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise CommerceError(name, "should be a whole number", "not_a_number")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise CommerceError(
            name, f"should be a whole number, not {str(value)[:20]!r}", "not_a_number"
        ) from None
    if not low <= number <= high:
        raise CommerceError(name, f"should be between {low} and {high}", "out_of_range")
    return number
