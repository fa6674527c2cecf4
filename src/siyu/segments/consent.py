"""The consent condition on channel ``*`` ("for this purpose at all"), docs/segments.md.

Every record still in effect counts: per contact and purpose the newest ``*`` record, and each
channel's newest record when it is newer than that ``*`` record (an older one was overridden
by it). Granted when all of them grant — a contact who granted every channel one by one and
never ``*`` is granted — withdrawn when any of them withdraws, unknown without records. The
same rule as ``consent.service.current`` on the system of record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ARRAY, Boolean, and_, case, func, not_, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from siyu.consent.service import ANY_CHANNEL
from siyu.warehouse.query import CONSENTS


def _consent_in_effect() -> Any:
    """Consent records still in effect, for the ``*`` (all channels) condition: per contact and
    purpose the newest ``*`` record, and each channel's newest record when it is newer than that
    ``*`` record (an older one was overridden by it). Ties in time go by id, as in the ledger."""
    r = CONSENTS
    ranked = select(
        r.c.contact_id,
        r.c.purpose,
        r.c.channel,
        r.c.granted,
        func.row_number()
        .over(
            partition_by=[r.c.contact_id, r.c.purpose, r.c.channel],
            order_by=[r.c.occurred_at.desc(), r.c.id.desc()],
        )
        .label("newest"),
        func.row_number()
        .over(partition_by=[r.c.contact_id, r.c.purpose], order_by=[r.c.occurred_at, r.c.id])
        .label("seq"),
    ).subquery("consent_ranked")
    newest = (
        select(
            ranked.c.contact_id,
            ranked.c.purpose,
            ranked.c.channel,
            ranked.c.granted,
            ranked.c.seq,
            func.max(case((ranked.c.channel == ANY_CHANNEL, ranked.c.seq)))
            .over(partition_by=[ranked.c.contact_id, ranked.c.purpose])
            .label("any_seq"),
        )
        .where(ranked.c.newest == 1)
        .subquery("consent_newest")
    )
    in_effect = or_(
        newest.c.channel == ANY_CHANNEL, newest.c.any_seq.is_(None), newest.c.seq > newest.c.any_seq
    )
    return (
        select(newest.c.contact_id, newest.c.purpose, newest.c.granted)
        .where(in_effect)
        .subquery("consent_in_effect")
    )


CONSENT_IN_EFFECT = _consent_in_effect()


Side = Callable[[str, str, Any], Any]


def consent_condition(purpose: str, channel: str, state: str, side: Side) -> ColumnElement[bool]:
    """The ``consent`` condition; ``side`` is the compiler's per-contact aggregate over a profile
    table (its prefix, a memo key, the aggregate)."""
    if channel == ANY_CHANNEL:
        return _all_channels(purpose, state, side)
    # One channel: its newest record or the newest ``*`` record, whichever is newer (what a send
    # on that channel checks, journeys/facts.py).
    r = CONSENTS
    applies = and_(r.c.purpose == purpose, r.c.channel.in_(sorted({channel, ANY_CHANNEL})))
    ordered = func.array_agg(aggregate_order_by(r.c.granted, r.c.occurred_at.desc(), r.c.id.desc()))
    newest = type_coerce(
        side("consent", repr((purpose, channel)), ordered.filter(applies)), ARRAY(Boolean())
    )[1]
    return {
        "granted": newest.is_(True),
        "withdrawn": newest.is_(False),
        "unknown": newest.is_(None),
        "not_granted": newest.is_not(True),
    }[state]


def _all_channels(purpose: str, state: str, side: Side) -> ColumnElement[bool]:
    """Records in effect (CONSENT_IN_EFFECT), and the refusals among them."""
    mine = CONSENT_IN_EFFECT.c.purpose == purpose
    refused = and_(mine, not_(CONSENT_IN_EFFECT.c.granted))
    records = func.coalesce(side("consent_all", repr((purpose, "n")), func.count().filter(mine)), 0)
    withdrawn = func.coalesce(side("consent_all", repr((purpose, "w")), func.count().filter(refused)), 0) > 0
    granted = and_(records > 0, not_(withdrawn))
    return {
        "granted": granted,
        "withdrawn": withdrawn,
        "unknown": records == 0,
        "not_granted": not_(granted),
    }[state]
