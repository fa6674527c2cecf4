"""Payouts of settled commissions through WeChat Pay profit sharing (分账).

Two steps, each its own unit of work (the caller commits between them):

1. ``plan``: for every order with settled, unpaid commissions of promoters who have a WeChat
   openid and whose available balance reaches the minimum withdrawal, a payout row with a
   fresh ``out_order_no`` is written and the commissions are marked with it. Committed before
   anything is sent, so a crash between the two steps leaves a row to send, never money sent
   without a record.
2. ``send``: every payout not finished is sent (again) with its own ``out_order_no``; WeChat Pay
   answers a repeat with the order it already made, so a retry never pays twice.

An order needs its WeChat Pay ``transaction_id`` (the ``transaction_id`` property of its
``Order Completed`` event); orders without one are left for a bank transfer (the export)."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.distribution.ledger import EARN, balances
from siyu.distribution.profitsharing import (
    MAX_RECEIVERS,
    ProfitSharingClient,
    ProfitSharingError,
    check_receivers,
)
from siyu.distribution.settings import get_settings
from siyu.store.models import Commission, DistributionPayout, Order, Promoter


def _fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def plan(session: Session, now: datetime) -> list[DistributionPayout]:
    settings = get_settings(session)
    rows = session.execute(
        select(Commission, Promoter, Order)
        .join(Promoter, Promoter.id == Commission.promoter_id)
        .join(Order, Order.id == Commission.order_id)
        .where(
            Commission.kind == EARN,
            Commission.state == "settled",
            Commission.payout_id.is_(None),
            Commission.amount > Commission.reversed,
            Promoter.openid.is_not(None),
        )
        .order_by(Order.id, Commission.level)
    ).all()
    avail = balances(session, sorted({p.id for _c, p, _o in rows}))
    by_order: dict[int, list[tuple[Commission, Promoter]]] = {}
    orders: dict[int, Order] = {}
    for c, p, o in rows:
        if avail[p.id]["available"] < settings.min_withdrawal:
            continue
        if not isinstance((o.properties or {}).get("transaction_id"), str):
            continue
        by_order.setdefault(o.id, []).append((c, p))
        orders[o.id] = o
    made = []
    for order_id, items in by_order.items():
        order = orders[order_id]
        seq = (session.scalar(select(func.count()).where(DistributionPayout.order_id == order_id)) or 0) + 1
        for start in range(0, len(items), MAX_RECEIVERS):
            chunk = items[start : start + MAX_RECEIVERS]
            receivers = [
                {
                    "type": "PERSONAL_OPENID",
                    "account": p.openid,
                    "amount": _fen(c.amount - c.reversed),
                    "description": f"分销佣金 L{c.level}",
                    "promoter": p.code,
                }
                for c, p in chunk
            ]
            payout = DistributionPayout(
                # random tail: unique for the merchant also across a rebuilt database; the
                # row is committed before sending, so retries reuse it
                out_order_no=f"SYD{order_id}N{seq}{secrets.token_hex(4).upper()}",
                order_id=order_id,
                transaction_id=str(order.properties["transaction_id"])[:64],
                receivers=receivers,
                amount=sum((c.amount - c.reversed for c, _p in chunk), Decimal(0)),
                status="requested",
                created_at=now,
                updated_at=now,
            )
            seq += 1
            session.add(payout)
            session.flush()
            # conditional: a commission another planner took meanwhile is not taken twice
            for c, _p in chunk:
                session.execute(
                    update(Commission)
                    .where(Commission.id == c.id, Commission.payout_id.is_(None))
                    .values(payout_id=payout.id)
                    .execution_options(synchronize_session=False)
                )
            made.append(payout)
    return made


def send(session: Session, client: ProfitSharingClient, now: datetime) -> list[dict[str, Any]]:
    """Send every payout still ``requested`` (new, or whose last attempt failed in a way that
    may be retried); the outcome of each. A refused one is ``failed`` with WeChat Pay's reason
    and is not sent again by itself."""
    settings = get_settings(session)
    out = []
    for payout in session.scalars(
        select(DistributionPayout)
        .where(DistributionPayout.status == "requested")
        .order_by(DistributionPayout.id)
    ):
        order = session.get(Order, payout.order_id)
        assert order is not None
        receivers = [{k: v for k, v in r.items() if k != "promoter"} for r in payout.receivers]
        try:
            check_receivers(receivers, _fen(order.total), str(settings.sharing_ratio))
            answer = client.create_order(payout.transaction_id, payout.out_order_no, receivers)
        except ProfitSharingError as exc:
            payout.status = "requested" if exc.retryable else "failed"
            payout.error = str(exc)[:500]
            payout.updated_at = now
            out.append(payout_dict(payout))
            continue
        payout.status = "finished" if answer.get("state") == "FINISHED" else "processing"
        payout.wechat_order_id = str(answer.get("order_id") or "")[:64] or None
        payout.error = None
        payout.updated_at = now
        out.append(payout_dict(payout))
    session.flush()
    return out


def payout_dict(p: DistributionPayout) -> dict[str, Any]:
    return {
        "out_order_no": p.out_order_no,
        "order_id": p.order_id,
        "transaction_id": p.transaction_id,
        "amount": str(p.amount),
        "receivers": p.receivers,
        "status": p.status,
        "wechat_order_id": p.wechat_order_id,
        "error": p.error,
    }
