"""The ingest hook that books commissions: ``Order Completed`` and ``Order Refunded`` accepted
through any ingest path. Registered after the order consumer, so the orders and refunds of
the batch are booked (by siyu.commerce) when it runs; it reads them back from the database and
books the commission movements they call for. Idempotent (see siyu.distribution.ledger)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce.consumer import COMPLETED, REFUNDED
from siyu.distribution import ledger
from siyu.distribution.promoters import auto_promote
from siyu.distribution.settings import get_settings
from siyu.ingest.messages import Message
from siyu.ingest.service import Accepted
from siyu.store.dialect import chunked
from siyu.store.models import Order, utcnow


class CommissionConsumer:
    events = frozenset({COMPLETED, REFUNDED})

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._now = now or utcnow

    def wants(self, message: Message) -> bool:
        return message.event in self.events

    def __call__(self, session: Session, accepted: list[Accepted]) -> None:
        settings = get_settings(session)
        if not settings.enabled:
            return
        now = self._now()
        completed: set[tuple[int, str]] = set()
        wanted: dict[str, set[int]] = {}
        for item in accepted:
            props = item.message.properties or {}
            order_no = props.get("order_id")
            if not isinstance(order_no, str | int) or not str(order_no).strip():
                continue  # the order consumer reported it
            no = str(order_no).strip()
            # the batch's contacts are survivors, and a merge moves orders to the survivor
            wanted.setdefault(no, set()).add(item.contact_id)
            if item.message.event == COMPLETED:
                completed.add((item.contact_id, no))
        completed_nos = {no for _cid, no in completed}
        orders = self._orders(session, wanted)
        refunded = [o for o in orders if o.refunded]  # read before the insert expires them
        ledger.earn(session, [o for o in orders if o.order_no in completed_nos], now, settings)
        for order in refunded:
            ledger.reverse(session, order, now)
        if settings.auto_threshold is not None:
            for cid in sorted({cid for cid, _no in completed}):
                auto_promote(session, cid, now)

    @staticmethod
    def _orders(session: Session, wanted: dict[str, set[int]]) -> list[Order]:
        """The booked orders these calls name (by order number among the caller's contacts:
        the contact index finds them)."""
        contacts = sorted({c for ids in wanted.values() for c in ids})
        found: dict[int, Order] = {}
        for chunk in chunked(contacts):
            for order in session.scalars(
                select(Order).where(Order.contact_id.in_(chunk), Order.order_no.in_(sorted(wanted)))
            ):
                if order.contact_id in wanted.get(order.order_no, set()):
                    found[order.id] = order
        return [found[k] for k in sorted(found)]
