"""Counts for `siyu stats` and the API: the traffic pool at a glance."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.store.models import (
    Channel,
    Contact,
    ContactFollow,
    ContactMerge,
    Event,
    Identity,
    ImportJob,
    Source,
)


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(stmt) or 0)


def overview(session: Session) -> dict[str, Any]:
    live = Contact.merged_into_id.is_(None)
    by_channel = session.execute(
        select(Channel.key, func.count(Contact.id))
        .join(Contact, Contact.first_channel_id == Channel.id)
        .where(live)
        .group_by(Channel.key)
        .order_by(Channel.key)
    ).all()
    return {
        "contacts": _count(session, select(func.count()).select_from(Contact).where(live)),
        "events": _count(session, select(func.count()).select_from(Event)),
        "identities": _count(session, select(func.count()).select_from(Identity)),
        "merges": _count(session, select(func.count()).select_from(ContactMerge)),
        "channels": _count(session, select(func.count()).select_from(Channel)),
        "sources": _count(session, select(func.count()).select_from(Source)),
        "import_jobs": _count(session, select(func.count()).select_from(ImportJob)),
        "contacts_by_first_channel": {k: n for k, n in by_channel},
        # WeCom: customers who follow at least one staff member, and relations the customer
        # ended (流失: del_follow_user), a headline figure of private-domain operations.
        "wecom_customers": _count(
            session,
            select(func.count(func.distinct(ContactFollow.contact_id))).where(
                ContactFollow.deleted_at.is_(None)
            ),
        ),
        "wecom_lost": _count(
            session,
            select(func.count()).select_from(ContactFollow).where(ContactFollow.deleted_by == "customer"),
        ),
    }
