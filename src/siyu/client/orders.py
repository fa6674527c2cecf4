"""Python API for orders and subscriptions (周期购): ``s.orders`` and ``s.orders.subscriptions``.

Orders sent here go through ingest as ``Order Completed`` track calls (message id
``order:<source>:<order_id>``), so they resolve their customer like any event, fire journeys and
are booked by the same consumer as the SDKs' orders. Refunds of known orders are booked directly
and recorded as ``Order Refunded`` events of the order's contact.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from siyu.commerce.imports import read_orders
from siyu.commerce.report import orders_report
from siyu.commerce.repository import OrderRepository
from siyu.commerce.schemas import CommerceError, CommerceNotFound, RefundIn, parse_order, parse_refund
from siyu.commerce.service import OrderService, summary
from siyu.commerce.subscriptions import SubscriptionService
from siyu.context import AppContext
from siyu.ingest.messages import MessageError, parse_time
from siyu.profiles import views
from siyu.store.changes import emit_events
from siyu.store.models import Order, Subscription, SubscriptionPlan, utcnow

if TYPE_CHECKING:
    from siyu.client import Siyu


def _money(value: Any) -> str | None:
    return None if value is None else f"{value:.2f}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def order_dump(
    order: Order, lines: list[Any] | None = None, refunds: list[Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": order.id,
        "source": order.source,
        "order_id": order.order_no,
        "contact_id": order.contact_id,
        "status": order.status,
        "currency": order.currency,
        "total": _money(order.total),
        "revenue": _money(order.revenue),
        "discount": _money(order.discount),
        "shipping": _money(order.shipping),
        "tax": _money(order.tax),
        "refunded": _money(order.refunded),
        "net": _money(order.total - order.refunded),
        "coupon": order.coupon_code,
        "staff": order.staff_userid,
        "subscription_id": order.subscription_id,
        "ordered_at": _iso(order.ordered_at),
    }
    if lines is not None:
        out["products"] = [
            {
                "product_id": ln.product_id,
                "sku": ln.sku,
                "name": ln.name,
                "category": ln.category,
                "price": _money(ln.price),
                "quantity": ln.quantity,
                "refunded_quantity": ln.refunded_quantity,
            }
            for ln in lines
        ]
    if refunds is not None:
        out["refunds"] = [
            {
                "refund_id": r.refund_no,
                "amount": _money(r.amount),
                "reason": r.reason,
                "products": r.lines,
                "refunded_at": _iso(r.refunded_at),
            }
            for r in refunds
        ]
    return out


def plan_dump(plan: SubscriptionPlan, counts: dict[tuple[int, str], int] | None = None) -> dict[str, Any]:
    out = {
        "key": plan.key,
        "name": plan.name,
        "product_id": plan.product_id,
        "price": _money(plan.price),
        "interval_days": plan.interval_days,
        "periods": plan.periods,
        "remind_days": plan.remind_days,
        "source": plan.source,
        "active": plan.active,
    }
    if counts is not None:
        out["subscriptions"] = {
            s: counts.get((plan.id, s), 0) for s in ("active", "paused", "cancelled", "ended", "failed")
        }
    return out


def subscription_dump(sub: Subscription, plan_key: str) -> dict[str, Any]:
    return {
        "id": sub.id,
        "contact_id": sub.contact_id,
        "plan": plan_key,
        "external_id": sub.external_id,
        "status": sub.status,
        "started_at": _iso(sub.started_at),
        "next_renewal_at": _iso(sub.next_renewal_at),
        "renewals": sub.renewals,
        "failures": sub.failures,
        "paused_at": _iso(sub.paused_at),
        "cancelled_at": _iso(sub.cancelled_at),
        "cancel_reason": sub.cancel_reason,
    }


class OrdersClient:
    def __init__(self, ctx: AppContext, client: Siyu) -> None:
        self.ctx = ctx
        self._client = client
        self.subscriptions = SubscriptionsClient(ctx)

    # --- booking ------------------------------------------------------------------------------
    def book(self, orders: list[dict[str, Any]], write_key: str | None = None) -> dict[str, Any]:
        """Book orders: each an object with ``identifiers`` (the customer), the Segment order
        fields (``order_id``, ``total``, ``products`` …, ``source``) and ``ordered_at``. Answers
        ``{"booked", "duplicates", "problems": [{"index", "field", "message"}]}``; the valid
        orders are booked whatever the others hold."""
        problems: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        index_of: list[int] = []
        keys: list[tuple[str, str]] = []
        now = utcnow()
        for index, raw in enumerate(orders):
            if not isinstance(raw, dict):
                problems.append({"index": index, "field": "(order)", "message": "should be an object"})
                continue
            props = {k: v for k, v in raw.items() if k not in ("identifiers", "ordered_at")}
            try:
                at = parse_time(raw["ordered_at"], "ordered_at") if raw.get("ordered_at") else now
                order = parse_order(props, contact_id=0, at=at, default_source="api")
            except (CommerceError, MessageError) as exc:
                field = getattr(exc, "field", "(order)")
                problems.append(
                    {"index": index, "field": field, "message": getattr(exc, "message", None) or exc.reason}
                )  # type: ignore[attr-defined]
                continue
            props["source"] = order.source
            calls.append(
                {
                    "type": "track",
                    "event": "Order Completed",
                    "identifiers": raw.get("identifiers"),
                    "properties": props,
                    "timestamp": at.isoformat(),
                    "messageId": f"order:{order.source}:{order.order_no}"[:128],
                }
            )
            index_of.append(index)
            keys.append((order.source, order.order_no))
        with self.ctx.db.session() as s:
            before = set(OrderRepository(s).existing(keys))
        result = self._client.batch(calls, write_key)
        for rej in result.rejected:
            problems.append({"index": index_of[rej.index], "field": rej.field, "message": rej.reason})
        with self.ctx.db.session() as s:
            after = set(OrderRepository(s).existing(keys))
        booked = len(after - before)
        rejected = len(result.rejected)
        problems.sort(key=lambda p: p["index"])
        return {"booked": booked, "duplicates": len(calls) - rejected - booked, "problems": problems}

    def import_csv(self, path: str | Path) -> dict[str, Any]:
        """Book the orders of a CSV file (see ``siyu.commerce.imports``); errors by row and field."""
        tz = self.ctx.timezone()
        parsed = read_orders(Path(path), tz)
        result = self.book(parsed.orders)
        errors = list(parsed.errors)
        for p in result["problems"]:
            errors.append({"row": parsed.rows[p["index"]], "field": p["field"], "message": p["message"]})
        errors.sort(key=lambda e: e["row"])
        return {
            "rows": parsed.row_count,
            "orders": len(parsed.orders),
            "booked": result["booked"],
            "duplicates": result["duplicates"],
            "errors": errors,
        }

    def refund(
        self,
        source: str,
        order_id: str,
        *,
        amount: Any = None,
        refund_id: str | None = None,
        reason: str | None = None,
        products: list[dict[str, Any]] | None = None,
        refunded_at: datetime | None = None,
        actor: str = "python",
    ) -> dict[str, Any]:
        """Refund an order, whole (no ``amount``) or in part; a repeated ``refund_id`` changes
        nothing. Raises ``CommerceError`` naming the field (unknown order, amount above what is
        left …)."""
        now = utcnow()
        props: dict[str, Any] = {"order_id": order_id, "source": source}
        for key, value in (("amount", amount), ("reason", reason), ("products", products)):
            if value is not None:
                props[key] = value
        refund_no = refund_id or f"{actor}:{now.isoformat()}"
        props["refund_id"] = refund_no
        refund: RefundIn = parse_refund(props, at=refunded_at or now, default_source=source)
        with self.ctx.db.session() as s:
            service = OrderService(s, now=now, tz=self.ctx.timezone(s))
            result = service.refund([refund])
            if result.problems:
                p = result.problems[0]
                cls = CommerceNotFound if p.code == "order_not_found" else CommerceError
                raise cls(p.field, p.message, p.code)
            order = OrderRepository(s).get(refund.source, refund.order_no)
            assert order is not None
            refunds = OrderRepository(s).refunds_of(order.id)
            if result.refunded:
                props["amount"] = next(f"{r.amount:.2f}" for r in refunds if r.refund_no == refund_no)
                mid = f"refund:{order.contact_id:012d}:{order.id}:{refund_no}"[:128]
                emit_events(s, "Order Refunded", [(mid, order.contact_id, props)], refund.refunded_at)
            dump = order_dump(order, refunds=refunds)
            return {"refunded": bool(result.refunded), "order": dump}

    # --- reading ------------------------------------------------------------------------------
    def list(
        self,
        *,
        contact: str | None = None,
        source: str | None = None,
        status: str | None = None,
        staff: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact) if contact else None
            orders, total = OrderRepository(s).search(
                contact_id=cid,
                source=source,
                status=status,
                staff=staff,
                since=since,
                until=until,
                limit=max(1, min(limit, 1000)),
                offset=max(0, offset),
            )
            return {"total": total, "orders": [order_dump(o) for o in orders]}

    def show(self, source: str, order_id: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            repo = OrderRepository(s)
            order = repo.get(source, order_id)
            if order is None:
                raise CommerceNotFound(
                    "order_id", f"no order {order_id!r} from {source!r}", "order_not_found"
                )
            return order_dump(order, repo.lines_of([order.id]).get(order.id, []), repo.refunds_of(order.id))

    def summary(self, contact: str, recent: int = 5) -> dict[str, Any]:
        """A contact's lifetime spend (net of refunds), orders, AOV, first and last order, and
        the most recent orders."""
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            figures = summary(s, [cid])[cid].dump()
            orders, _ = OrderRepository(s).search(contact_id=cid, limit=recent)
            return {"contact_id": cid, **figures, "recent": [order_dump(o) for o in orders]}

    def problems(self, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """Order events and rows that could not be booked, newest first."""
        with self.ctx.db.session() as s:
            rows, total = OrderRepository(s).problems(limit, offset)
            return {
                "total": total,
                "problems": [
                    {
                        "at": _iso(p.at),
                        "origin": p.origin,
                        "event": p.event,
                        "message_id": p.message_id,
                        "source": p.source,
                        "order_id": p.order_no,
                        "refund_id": p.refund_no,
                        "field": p.field,
                        "code": p.code,
                        "message": p.message,
                    }
                    for p in rows
                ],
            }

    def report(self, since: date, until: date) -> dict[str, Any]:
        """GMV, net, AOV and repurchase rate overall, by channel and by staff, for the days
        ``since`` … ``until`` in the brand's time zone."""
        with self.ctx.db.session() as s:
            return orders_report(s, since, until, self.ctx.timezone(s))

    def _contact(self, session: Any, query: str) -> int:
        return views.find_contact_id(self.ctx.profiles(session), self.ctx.parser, query)


class SubscriptionsClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def _service(self, s: Any, now: datetime | None = None) -> SubscriptionService:
        return SubscriptionService(s, now=now, tz=self.ctx.timezone(s))

    def plans(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            service = self._service(s)
            counts = service.counts_by_plan()
            return [plan_dump(p, counts) for p in service.plans()]

    def create_plan(
        self, key: str, name: str, price: Any, interval_days: int, actor: str = "python", **extra: Any
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return plan_dump(
                self._service(s).create_plan(key, name, price, interval_days, actor=actor, **extra)
            )

    def update_plan(self, key: str, actor: str = "python", **changes: Any) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return plan_dump(self._service(s).update_plan(key, actor=actor, **changes))

    def subscribe(
        self,
        contact: str,
        plan: str,
        *,
        external_id: str | None = None,
        start_at: datetime | None = None,
        actor: str = "python",
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            cid = views.find_contact_id(self.ctx.profiles(s), self.ctx.parser, contact)
            sub = self._service(s).subscribe(
                cid, plan, external_id=external_id, start_at=start_at, actor=actor
            )
            return self._dump(s, sub)

    def list(
        self, *, status: str | None = None, plan: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            service = self._service(s)
            keys = {p.id: p.key for p in service.plans()}
            subs = service.search(
                status=status, plan=plan, limit=max(1, min(limit, 1000)), offset=max(0, offset)
            )
            return [subscription_dump(sub, keys[sub.plan_id]) for sub in subs]

    def show(self, subscription_id: int) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return self._dump(s, self._service(s).get(subscription_id))

    def pause(self, subscription_id: int, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return self._dump(s, self._service(s).pause(subscription_id, actor=actor))

    def resume(self, subscription_id: int, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return self._dump(s, self._service(s).resume(subscription_id, actor=actor))

    def cancel(
        self, subscription_id: int, reason: str | None = None, actor: str = "python"
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return self._dump(s, self._service(s).cancel(subscription_id, reason=reason, actor=actor))

    def fail(self, subscription_id: int, reason: str | None = None, actor: str = "python") -> dict[str, Any]:
        """Record a failed renewal payment (N in a row end the subscription as ``failed``)."""
        with self.ctx.db.session() as s:
            return self._dump(s, self._service(s).fail(subscription_id, reason=reason, actor=actor))

    def renew(self, now: datetime | None = None) -> dict[str, int]:
        """Book the due renewals and send the reminders due (the job ``siyu serve`` runs)."""
        with self.ctx.db.session() as s:
            return self._service(s, now).run()

    def _dump(self, s: Any, sub: Subscription) -> dict[str, Any]:
        plan = s.get(SubscriptionPlan, sub.plan_id)
        return subscription_dump(sub, plan.key)
