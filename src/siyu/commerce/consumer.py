"""The ingest hook that books order events: ``Order Completed`` and ``Order Refunded`` accepted
through any ingest path (HTTP batch/track, file import, the Python API) become orders and
refunds in the same transaction as their events.

A call whose order cannot be booked (a refund of an unknown order, an amount above what is left, a
total that is not a number) stays stored as an event; its problem is written to
``order_problems`` (the console's "未入账的订单事件" page, ``siyu orders problems``) and its
neighbours are booked as if it were not there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.commerce.repository import OrderRepository
from siyu.commerce.schemas import CommerceError, OrderIn, RefundIn, parse_order, parse_refund
from siyu.commerce.service import OrderService
from siyu.ingest.messages import Message
from siyu.ingest.service import Accepted
from siyu.profiles.detect import mask_text
from siyu.store.models import Channel, utcnow

COMPLETED = "Order Completed"
REFUNDED = "Order Refunded"
#: The source of an order sent without one through a write key that has no channel.
DEFAULT_SOURCE = "api"


class OrderConsumer:
    """An ingest ``EventConsumer``. ``tz`` gives the brand's time zone (the loyalty programme
    reads dates in it); a callable so a change of zone is seen without a restart."""

    events = frozenset({COMPLETED, REFUNDED})

    def __init__(
        self, tz: Callable[[Session], str] | None = None, now: Callable[[], datetime] | None = None
    ) -> None:
        self._tz = tz or (lambda _session: "Asia/Shanghai")
        self._now = now or utcnow

    def wants(self, message: Message) -> bool:
        return message.event in self.events

    def __call__(self, session: Session, accepted: list[Accepted]) -> None:
        now = self._now()
        defaults = self._default_sources(session, accepted)
        orders: list[OrderIn] = []
        order_msgs: list[Accepted] = []
        refunds: list[RefundIn] = []
        refund_msgs: list[Accepted] = []
        problems: list[dict[str, object]] = []
        for item in accepted:
            msg = item.message
            props = msg.properties or {}
            default = defaults.get(item.source.channel_id if item.source else None, DEFAULT_SOURCE)
            try:
                if msg.event == COMPLETED:
                    orders.append(
                        parse_order(
                            props,
                            contact_id=item.contact_id,
                            at=msg.timestamp,
                            default_source=default,
                            message_id=msg.message_id,
                        )
                    )
                    order_msgs.append(item)
                else:
                    refunds.append(
                        parse_refund(
                            props, at=msg.timestamp, default_source=default, message_id=msg.message_id
                        )
                    )
                    refund_msgs.append(item)
            except CommerceError as exc:
                problems.append(_problem(now, item, props, exc.field, exc.code, exc.message))
        service = OrderService(session, now=now, tz=self._tz(session))
        booked = service.book(orders)
        for p in booked.problems:  # pragma: no cover - book reports no problems for parsed orders today
            problems.append(_problem(now, order_msgs[p.index], {}, p.field, p.code, p.message))
        for c in service.coupon_outcomes:
            if not c.ok:
                item = order_msgs[c.index]
                text = f"order booked, coupon {c.code!r} not redeemed: {c.reason}"
                problems.append(
                    _problem(now, item, item.message.properties or {}, "coupon", "coupon_refused", text)
                )
        done = service.refund(refunds)
        for p in done.problems:
            item = refund_msgs[p.index]
            problems.append(_problem(now, item, item.message.properties or {}, p.field, p.code, p.message))
        OrderRepository(session).record_problems(problems)

    @staticmethod
    def _default_sources(session: Session, accepted: list[Accepted]) -> dict[int | None, str]:
        """Channel key of each write-key source's channel: an order sent through the 有赞 source
        without a ``source`` property is a 有赞 order."""
        ids = {a.source.channel_id for a in accepted if a.source is not None and a.source.channel_id}
        if not ids:
            return {}
        return dict(session.execute(select(Channel.id, Channel.key).where(Channel.id.in_(sorted(ids)))).all())


def _problem(
    at: datetime, item: Accepted, props: dict[str, object], field: str, code: str, message: str
) -> dict[str, object]:
    def short(value: object, limit: int) -> str | None:
        # a phone or email where a shop put it by mistake is masked: this table is not erased
        # with the person (it has no contact), so it must not hold their identifiers
        return None if value in (None, "") else mask_text(str(value))[:limit]

    return {
        "at": at,
        "origin": "ingest",
        "event": item.message.event,
        "message_id": item.message.message_id,
        "source": short(props.get("source"), 64),
        "order_no": short(props.get("order_id"), 128),
        "refund_no": short(props.get("refund_id"), 200),
        "field": field[:64],
        "code": code[:48],
        "message": mask_text(message)[:500],
    }
