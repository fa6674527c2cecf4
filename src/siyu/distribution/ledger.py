"""The commission ledger (佣金明细): earned on a booked order at one or two levels, reversed on
refunds, frozen then settled by a job.

* **Levels.** Level 1 is the buyer's bound promoter (the buyer themself when self-purchase
  commission is on and they are a promoter); level 2 is level 1's own binder, only when the
  settings have two levels. There is no third level: the loop stops at two by construction.
  Level 2 is never the buyer nor level 1 (a binding cycle cannot pay someone for their own
  order).
* **Exactly once.** Each movement is unique per (order, level, kind), inserted with ON CONFLICT
  DO NOTHING; the reversal's amount is added to its earning only when the reversal row was
  inserted, so a redone ingest batch, or two workers racing on PostgreSQL, book nothing twice.
* **Refunds** reverse proportionally: after refunds totalling R of an order of total T, the
  earning's reversed part is ``amount × R / T`` rounded to the fen, the whole amount once the
  order is fully refunded; each refund's row is the step from the previous figure, so partial
  refunds add up exactly. A settled earning is reversed too (a negative adjustment).
* **Invariant** per promoter: pending + frozen + settled = earned − reversed (see verify)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, aliased

from siyu.distribution.settings import get_settings
from siyu.store.dialect import chunked, insert_ignore
from siyu.store.models import (
    Commission,
    Contact,
    DistributionSettings,
    Order,
    OrderRefund,
    Promoter,
    PromoterBinding,
)

FEN = Decimal("0.01")
EARN = "earn"
REVERSAL = "reversal:"
STATES = ("pending", "frozen", "settled")


def _binders(session: Session, contact_ids: set[int]) -> dict[int, Promoter]:
    """Each contact's bound promoter (one query per chunk)."""
    out: dict[int, Promoter] = {}
    for chunk in chunked(sorted(contact_ids)):
        rows = session.execute(
            select(PromoterBinding.contact_id, Promoter)
            .join(Promoter, Promoter.id == PromoterBinding.promoter_id)
            .where(PromoterBinding.contact_id.in_(chunk))
        ).all()
        out.update({cid: p for cid, p in rows})
    return out


def _own(session: Session, buyers: set[int]) -> dict[int, Promoter]:
    """Each buyer's own promoter row, also one made for a contact since merged into them."""
    out: dict[int, Promoter] = {}
    for chunk in chunked(sorted(buyers)):
        rows = session.execute(
            select(func.coalesce(Contact.merged_into_id, Contact.id), Promoter)
            .join(Promoter, Promoter.contact_id == Contact.id)
            .where(Contact.id.in_(chunk) | Contact.merged_into_id.in_(chunk))
            .order_by(Promoter.id)
        ).all()
        for cid, p in rows:
            out.setdefault(cid, p)
    return out


def _families(session: Session, buyers: set[int]) -> dict[int, set[int]]:
    out = {b: {b} for b in buyers}
    for chunk in chunked(sorted(buyers)):
        for cid, into in session.execute(
            select(Contact.id, Contact.merged_into_id).where(Contact.merged_into_id.in_(chunk))
        ):
            out[into].add(cid)
    return out


def earners_many(
    session: Session, buyers: set[int], settings: DistributionSettings
) -> dict[int, list[tuple[int, Promoter]]]:
    """(level, promoter) who earn on each buyer's orders under ``settings``: a few set queries
    for a whole batch of orders, not a few per order."""
    own = _own(session, buyers) if settings.self_purchase else {}
    binders = _binders(session, buyers)
    families = _families(session, buyers)
    firsts: dict[int, Promoter] = {}
    for b in buyers:
        mine = own.get(b)
        first = mine if mine is not None and mine.status == "approved" else binders.get(b)
        if first is None or first.status != "approved":
            continue
        if first.contact_id in families[b] and first is not mine:
            continue
        firsts[b] = first
    seconds = _binders(session, {p.contact_id for p in firsts.values()}) if settings.levels >= 2 else {}
    out: dict[int, list[tuple[int, Promoter]]] = {}
    for b, first in firsts.items():
        out[b] = [(1, first)]
        second = seconds.get(first.contact_id)
        if (
            second is not None
            and second.status == "approved"
            and second.id != first.id
            and second.contact_id not in families[b]
        ):
            out[b].append((2, second))
    return out


def earners(
    session: Session, buyer_id: int, settings: DistributionSettings | None = None
) -> list[tuple[int, Promoter]]:
    """(level, promoter) who earn on the buyer's orders under the current settings."""
    return earners_many(session, {buyer_id}, settings or get_settings(session)).get(buyer_id, [])


def earn(
    session: Session, orders: Order | list[Order], now: datetime, settings: DistributionSettings | None = None
) -> int:
    """Book the commissions of an order or a batch of orders (no-op when distribution is off,
    when nobody earns, or when they were booked already). Returns the rows inserted."""
    settings = settings or get_settings(session)
    batch = [o for o in (orders if isinstance(orders, list) else [orders]) if o.total > 0]
    if not settings.enabled or not batch:
        return 0
    rates = {1: settings.level1_rate, 2: settings.level2_rate}
    who = earners_many(session, {o.contact_id for o in batch}, settings)
    rows = []
    for order in batch:
        for level, promoter in who.get(order.contact_id, []):
            amount = (order.total * rates[level]).quantize(FEN, rounding=ROUND_DOWN)
            if amount <= 0:
                continue
            rows.append(
                {
                    "promoter_id": promoter.id,
                    "order_id": order.id,
                    "contact_id": order.contact_id,
                    "level": level,
                    "kind": EARN,
                    "base": order.total,
                    "rate": rates[level],
                    "amount": amount,
                    "reversed": Decimal(0),
                    "state": "pending",
                    "created_at": now,
                }
            )
    return insert_ignore(session, Commission.__table__, rows, ["order_id", "level", "kind"])


def reverse(session: Session, order: Order, now: datetime) -> int:
    """Book a reversal for every refund of the order not yet reversed, at every level it
    earned. Returns the rows inserted."""
    earnings = list(
        session.scalars(
            select(Commission)
            .where(Commission.order_id == order.id, Commission.kind == EARN)
            .order_by(Commission.level)
        )
    )
    if not earnings:
        return 0
    refunds = list(
        session.scalars(select(OrderRefund).where(OrderRefund.order_id == order.id).order_by(OrderRefund.id))
    )
    inserted = 0
    for e in earnings:
        cumulative, before = Decimal(0), Decimal(0)
        for r in refunds:
            cumulative += r.amount
            if cumulative >= order.total:
                target = e.amount
            else:
                target = min(
                    e.amount, (e.amount * cumulative / order.total).quantize(FEN, rounding=ROUND_HALF_UP)
                )
            step, before = target - before, target
            if step <= 0:
                continue
            row = {
                "promoter_id": e.promoter_id,
                "order_id": order.id,
                "contact_id": e.contact_id,
                "level": e.level,
                "kind": f"{REVERSAL}{r.id}",
                "base": r.amount,
                "rate": e.rate,
                "amount": -step,
                "reversed": Decimal(0),
                "state": e.state,
                "created_at": now,
            }
            if insert_ignore(session, Commission.__table__, [row], ["order_id", "level", "kind"]):
                session.execute(
                    update(Commission)
                    .where(Commission.id == e.id)
                    .values(reversed=Commission.reversed + step)
                    .execution_options(synchronize_session=False)
                )
                session.expire(e, ["reversed"])
                inserted += 1
    return inserted


def reconcile(session: Session, now: datetime) -> int:
    """Reverse the refunds no consumer saw: an operator's refund (REST, CLI, console) is booked
    by siyu.commerce directly, not through ingest. Finds orders with more refunds than
    reversals at an earning level, and books what is missing (idempotent)."""
    earn_rows = aliased(Commission)
    reversal_rows = aliased(Commission)
    levels = (
        select(func.count())
        .select_from(earn_rows)
        .where(earn_rows.order_id == Order.id, earn_rows.kind == EARN)
        .scalar_subquery()
    )
    refunds = select(func.count()).where(OrderRefund.order_id == Order.id).scalar_subquery()
    reversals = (
        select(func.count())
        .select_from(reversal_rows)
        .where(reversal_rows.order_id == Order.id, reversal_rows.kind != EARN)
        .scalar_subquery()
    )
    open_earning = (
        select(Commission.id)
        .where(
            Commission.order_id == Order.id, Commission.kind == EARN, Commission.reversed < Commission.amount
        )
        .exists()
    )
    orders = session.scalars(
        select(Order).where(Order.refunded > 0, open_earning, refunds * levels > reversals).order_by(Order.id)
    ).all()
    return sum(reverse(session, o, now) for o in orders)


def settle(session: Session, now: datetime) -> dict[str, int]:
    """The settlement job: refunds not yet reversed are reversed (see reconcile), pending
    earnings start their freeze (``freeze_days`` from the order), frozen ones whose freeze is
    over are settled. Conditional UPDATEs: two jobs racing move each row once."""
    settings = get_settings(session)
    reconciled = reconcile(session, now)
    frozen = 0
    pending = session.execute(
        select(Commission.id, Order.ordered_at)
        .join(Order, Order.id == Commission.order_id)
        .where(Commission.kind == EARN, Commission.state == "pending")
        .order_by(Commission.id)  # one lock order for concurrent jobs: no deadlock
    ).all()
    days = timedelta(days=settings.freeze_days)
    for cid, ordered_at in pending:
        frozen += session.execute(
            update(Commission)
            .where(Commission.id == cid, Commission.state == "pending")
            .values(state="frozen", frozen_until=ordered_at + days)
            .execution_options(synchronize_session=False)
        ).rowcount
    settled = session.execute(
        update(Commission)
        .where(Commission.kind == EARN, Commission.state == "frozen", Commission.frozen_until <= now)
        .values(state="settled", settled_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.expire_all()
    return {"reversed": reconciled, "frozen": frozen, "settled": settled}


def balances(session: Session, promoter_ids: list[int] | None = None) -> dict[int, dict[str, Decimal]]:
    """Per promoter: earned, reversed, pending, frozen, settled, paid_out, available."""
    net = Commission.amount - Commission.reversed
    is_earn = Commission.kind == EARN

    def by_state(state: str) -> object:
        return func.coalesce(func.sum(case(((is_earn & (Commission.state == state)), net), else_=0)), 0)

    q = select(
        Commission.promoter_id,
        func.coalesce(func.sum(case((is_earn, Commission.amount), else_=0)), 0),
        func.coalesce(func.sum(case((~is_earn, -Commission.amount), else_=0)), 0),
        by_state("pending"),
        by_state("frozen"),
        by_state("settled"),
        func.coalesce(
            func.sum(case((is_earn & Commission.payout_id.is_not(None), net), else_=0)),
            0,
        ),
    ).group_by(Commission.promoter_id)
    if promoter_ids is not None:
        q = q.where(Commission.promoter_id.in_(promoter_ids))
    out: dict[int, dict[str, Decimal]] = {}
    for pid, earned, rev, pend, froz, sett, paid in session.execute(q).all():
        d = {
            "earned": Decimal(str(earned)),
            "reversed": Decimal(str(rev)),
            "pending": Decimal(str(pend)),
            "frozen": Decimal(str(froz)),
            "settled": Decimal(str(sett)),
            "paid_out": Decimal(str(paid)),
        }
        d = {k: v.quantize(FEN) for k, v in d.items()}
        d["available"] = d["settled"] - d["paid_out"]
        out[pid] = d
    return out


def verify(session: Session) -> list[int]:
    """Promoters whose balances break pending + frozen + settled = earned − reversed (none)."""
    return [
        pid
        for pid, b in balances(session).items()
        if b["pending"] + b["frozen"] + b["settled"] != b["earned"] - b["reversed"]
    ]
