"""REST endpoints for orders, refunds, the orders report and subscriptions (周期购).

Thin: parse, call the Python API (``s.orders``), return its plain data. Orders posted here go
through ingest as ``Order Completed`` calls, so they resolve their customer and fire journeys as
any order event does; each bad order is reported by index and the others are booked.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1")


class OrdersBody(BaseModel):
    orders: list[Any] = Field(
        description="Orders: {identifiers, order_id, total, source, ordered_at, currency, coupon, staff, "
        "discount, shipping, tax, revenue, products: [{product_id, sku, name, category, price, quantity}]}.",
        max_length=5_000,
    )


class RefundBody(BaseModel):
    refund_id: str | None = Field(default=None, max_length=200, description="Makes the refund idempotent.")
    amount: str | float | None = Field(default=None, description="Yuan; omitted: what is left of the order.")
    reason: str | None = Field(default=None, max_length=200)
    products: list[dict[str, Any]] | None = Field(
        default=None, description="[{product_id, quantity}] returned."
    )
    refunded_at: datetime | None = None


class PlanBody(BaseModel):
    key: str = Field(max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(max_length=200)
    price: str | float = Field(description="Price of one delivery in yuan.")
    interval_days: int = Field(ge=1, le=3650)
    periods: int | None = Field(
        default=None, ge=1, le=10_000, description="Deliveries in all; null: until cancelled."
    )
    remind_days: int = Field(default=3, ge=0)
    source: str = Field(default="mini_program", max_length=64)
    product_id: str | None = Field(default=None, max_length=128)


class PlanUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    price: str | float | None = None
    interval_days: int | None = Field(default=None, ge=1, le=3650)
    periods: int | None = Field(default=None, ge=1, le=10_000)
    remind_days: int | None = Field(default=None, ge=0)
    source: str | None = Field(default=None, max_length=64)
    product_id: str | None = Field(default=None, max_length=128)
    active: bool | None = None


class SubscribeBody(BaseModel):
    contact: str = Field(description="The customer: phone, email, type:value or id:N.", max_length=300)
    plan: str = Field(max_length=64)
    external_id: str | None = Field(default=None, max_length=128, description="Makes subscribing idempotent.")
    start_at: datetime | None = Field(
        default=None, description="When the first delivery is due (default now)."
    )


class ReasonBody(BaseModel):
    reason: str | None = Field(default=None, max_length=200)


@router.post("/orders", tags=["orders"], summary="Book a batch of orders; problems by index, the rest booked")
def orders_book(body: OrdersBody, request: Request) -> dict[str, Any]:
    return get_client(request).orders.book(body.orders)


@router.get("/orders", tags=["orders"], summary="Orders, newest first, with filters")
def orders_list(
    request: Request,
    contact: str | None = Query(default=None, description="phone, email, type:value or id:N"),
    source: str | None = None,
    status: str | None = Query(default=None, description="completed, partially_refunded, refunded"),
    staff: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    return get_client(request).orders.list(
        contact=contact,
        source=source,
        status=status,
        staff=staff,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@router.get("/orders/problems", tags=["orders"], summary="Order events and rows that could not be booked")
def orders_problems(
    request: Request,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    return get_client(request).orders.problems(limit, offset)


@router.get(
    "/orders/report",
    tags=["orders"],
    summary="GMV, net, AOV and repurchase rate overall, by channel and by staff (days in the brand's zone)",
)
def orders_report(request: Request, since: date, until: date) -> dict[str, Any]:
    return get_client(request).orders.report(since, until)


@router.get("/orders/{source}/{order_id}", tags=["orders"], summary="One order with its products and refunds")
def orders_show(source: str, order_id: str, request: Request) -> dict[str, Any]:
    return get_client(request).orders.show(source, order_id)


@router.post(
    "/orders/{source}/{order_id}/refunds",
    tags=["orders"],
    summary="Refund an order in whole or in part (a repeated refund_id changes nothing)",
)
def orders_refund(source: str, order_id: str, body: RefundBody, request: Request) -> dict[str, Any]:
    return get_client(request).orders.refund(
        source,
        order_id,
        amount=body.amount,
        refund_id=body.refund_id,
        reason=body.reason,
        products=body.products,
        refunded_at=body.refunded_at,
        actor=actor_of(request),
    )


@router.get(
    "/contacts/{query}/orders",
    tags=["orders"],
    summary="A contact's lifetime spend, orders, AOV, last order and recent orders",
)
def contact_orders(query: str, request: Request) -> dict[str, Any]:
    return get_client(request).orders.summary(query)


# --- subscriptions --------------------------------------------------------------------------------
@router.get(
    "/subscriptions/plans", tags=["subscriptions"], summary="Subscription plans with counts by status"
)
def plans_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).orders.subscriptions.plans()


@router.post(
    "/subscriptions/plans", tags=["subscriptions"], summary="Create a subscription plan", status_code=201
)
def plans_create(body: PlanBody, request: Request) -> dict[str, Any]:
    data = body.model_dump()
    return get_client(request).orders.subscriptions.create_plan(
        data.pop("key"),
        data.pop("name"),
        data.pop("price"),
        data.pop("interval_days"),
        actor=actor_of(request),
        **data,
    )


@router.patch(
    "/subscriptions/plans/{key}", tags=["subscriptions"], summary="Change a plan (active=false retires it)"
)
def plans_update(key: str, body: PlanUpdate, request: Request) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return get_client(request).orders.subscriptions.update_plan(key, actor=actor_of(request), **changes)


@router.get("/subscriptions", tags=["subscriptions"], summary="Subscriptions, newest first")
def subscriptions_list(
    request: Request,
    status: str | None = Query(default=None, description="active, paused, cancelled, ended, failed"),
    plan: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> list[dict[str, Any]]:
    return get_client(request).orders.subscriptions.list(status=status, plan=plan, limit=limit, offset=offset)


@router.post(
    "/subscriptions",
    tags=["subscriptions"],
    summary="Subscribe a contact (idempotent by external_id)",
    status_code=201,
)
def subscriptions_create(body: SubscribeBody, request: Request) -> dict[str, Any]:
    return get_client(request).orders.subscriptions.subscribe(
        body.contact, body.plan, external_id=body.external_id, start_at=body.start_at, actor=actor_of(request)
    )


@router.post(
    "/subscriptions/renew",
    tags=["subscriptions"],
    summary="Book the due renewals and send the reminders due now",
)
def subscriptions_renew(request: Request) -> dict[str, Any]:
    return get_client(request).orders.subscriptions.renew()


@router.get("/subscriptions/{subscription_id}", tags=["subscriptions"], summary="One subscription")
def subscriptions_show(subscription_id: int, request: Request) -> dict[str, Any]:
    return get_client(request).orders.subscriptions.show(subscription_id)


@router.post("/subscriptions/{subscription_id}/pause", tags=["subscriptions"], summary="Pause a subscription")
def subscriptions_pause(subscription_id: int, request: Request) -> dict[str, Any]:
    return get_client(request).orders.subscriptions.pause(subscription_id, actor=actor_of(request))


@router.post(
    "/subscriptions/{subscription_id}/resume",
    tags=["subscriptions"],
    summary="Resume a paused subscription (its next renewal moves by the time paused)",
)
def subscriptions_resume(subscription_id: int, request: Request) -> dict[str, Any]:
    return get_client(request).orders.subscriptions.resume(subscription_id, actor=actor_of(request))


@router.post(
    "/subscriptions/{subscription_id}/cancel", tags=["subscriptions"], summary="Cancel, with a reason"
)
def subscriptions_cancel(subscription_id: int, body: ReasonBody, request: Request) -> dict[str, Any]:
    return get_client(request).orders.subscriptions.cancel(
        subscription_id, body.reason, actor=actor_of(request)
    )


@router.post(
    "/subscriptions/{subscription_id}/failures",
    tags=["subscriptions"],
    summary="Record a failed renewal payment (too many in a row end the subscription)",
)
def subscriptions_fail(subscription_id: int, body: ReasonBody, request: Request) -> dict[str, Any]:
    return get_client(request).orders.subscriptions.fail(
        subscription_id, body.reason, actor=actor_of(request)
    )
