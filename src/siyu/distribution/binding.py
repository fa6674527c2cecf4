"""Binding a customer to the promoter who brought them (绑定关系).

A customer is bound on their first visit through a promoter's link (``?promoter=<code>`` on
the page URL, or a ``promoter_code`` property or trait on any track / identify call). The rule
``new_users`` binds only contacts who had not ordered before the visit and were never bound; ``anyone`` binds
existing customers too. A binding cannot be replaced by another promoter's link during the
lock period (``lock_days``; 0 keeps it for ever).

Never bound: a promoter to themself, or a customer to a promoter whose own binder is that
customer (the customer would then earn level 2 of their own orders — the "seller counted as a
level of their own tree" bug of other systems)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.distribution.promoters import by_code
from siyu.distribution.settings import get_settings
from siyu.ingest.messages import Message
from siyu.ingest.service import Accepted
from siyu.store.models import Contact, DistributionSettings, Order, Promoter, PromoterBinding

PROPERTY = "promoter_code"
QUERY = "promoter"


@dataclass(frozen=True)
class BindOutcome:
    """``bound``, ``rebound``, ``kept`` (already theirs), or refused: ``disabled``,
    ``unknown_code``, ``not_approved``, ``self``, ``cycle``, ``locked``, ``not_new``."""

    outcome: str
    contact_id: int
    code: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("bound", "rebound", "kept")


def family_ids(session: Session, contact_id: int) -> set[int]:
    """The contact and every contact merged into it (one person)."""
    return {contact_id, *session.scalars(select(Contact.id).where(Contact.merged_into_id == contact_id))}


def binder_of(session: Session, contact_id: int) -> Promoter | None:
    """The promoter the contact is bound to."""
    row = session.get(PromoterBinding, contact_id)
    return None if row is None else session.get(Promoter, row.promoter_id)


def bind(
    session: Session,
    contact_id: int,
    code: str,
    at: datetime,
    via: str = "link",
    settings: DistributionSettings | None = None,
    promoter: Promoter | None = None,
) -> BindOutcome:
    """Bind as the visit at ``at`` would (``settings`` and ``promoter`` may be handed in by a
    caller that binds many contacts at once)."""
    settings = settings or get_settings(session)
    if not settings.enabled:
        return BindOutcome("disabled", contact_id, code)
    promoter = promoter or by_code(session, code)
    if promoter is None:
        return BindOutcome("unknown_code", contact_id, code)
    if promoter.status != "approved":
        return BindOutcome("not_approved", contact_id, promoter.code)
    me = family_ids(session, contact_id)
    if promoter.contact_id in me:
        return BindOutcome("self", contact_id, promoter.code)
    upper = binder_of(session, promoter.contact_id)
    if upper is not None and upper.contact_id in me:
        return BindOutcome("cycle", contact_id, promoter.code)
    current = session.get(PromoterBinding, contact_id)
    if current is not None:
        if current.promoter_id == promoter.id:
            return BindOutcome("kept", contact_id, promoter.code)
        if current.locked_until is None or current.locked_until > at:
            return BindOutcome("locked", contact_id, promoter.code)
    if settings.binding == "new_users":
        # orders before the visit: a visit and the order it led to may arrive in one batch
        ordered = session.scalar(
            select(Order.id).where(Order.contact_id.in_(sorted(me)), Order.ordered_at < at).limit(1)
        )
        if current is not None or ordered is not None:
            return BindOutcome("not_new", contact_id, promoter.code)
    locked_until = None if settings.lock_days == 0 else at + timedelta(days=settings.lock_days)
    if current is not None:
        current.promoter_id, current.bound_at, current.locked_until, current.via = (
            promoter.id,
            at,
            locked_until,
            via,
        )
        session.flush()
        return BindOutcome("rebound", contact_id, promoter.code)
    try:
        with session.begin_nested():
            session.add(
                PromoterBinding(
                    contact_id=contact_id,
                    promoter_id=promoter.id,
                    bound_at=at,
                    locked_until=locked_until,
                    via=via,
                )
            )
            session.flush()
    except IntegrityError:  # a concurrent visit bound them first: theirs stands
        return BindOutcome("locked", contact_id, promoter.code)
    return BindOutcome("bound", contact_id, promoter.code)


def code_in(message: Message) -> str | None:
    """The promoter code a call carries: a ``promoter_code`` property or trait, or
    ``?promoter=`` on the page URL (``context.page.url`` or a ``url`` property)."""
    for bag in (message.properties, message.traits):
        if isinstance(bag, dict):
            value = bag.get(PROPERTY)
            if isinstance(value, str | int) and str(value).strip():
                return str(value).strip()[:32]
    urls: list[Any] = []
    if isinstance(message.properties, dict):
        urls.append(message.properties.get("url"))
    page = (message.context or {}).get("page") if isinstance(message.context, dict) else None
    if isinstance(page, dict):
        urls.append(page.get("url"))
    for url in urls:
        if isinstance(url, str) and QUERY + "=" in url:
            try:
                found = parse_qs(urlsplit(url).query).get(QUERY)
            except ValueError:
                continue
            if found and found[0].strip():
                return found[0].strip()[:32]
    return None


class BindingConsumer:
    """An ingest ``EventConsumer``: binds the contact of every call that carries a promoter
    code. Registered after the order consumer and before the commission consumer, so a visit
    and the order it led to in one batch pay the promoter. Idempotent: a redone call finds
    the binding it made (``kept``)."""

    def wants(self, message: Message) -> bool:
        return code_in(message) is not None

    def __call__(self, session: Session, accepted: list[Accepted]) -> None:
        settings = get_settings(session)
        if not settings.enabled:
            return
        promoters: dict[str, Promoter | None] = {}
        for item in accepted:
            code = code_in(item.message)
            if code is None:
                continue
            if code not in promoters:
                promoters[code] = by_code(session, code)
            found = promoters[code]
            if found is None:
                continue  # an unknown code binds nobody
            bind(session, item.contact_id, code, item.message.timestamp, settings=settings, promoter=found)
