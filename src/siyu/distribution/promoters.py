"""Promoters (推广员): an application approved or rejected by an operator (指定分销), approved at
once (人人分销), or made automatically once a customer's cumulative spend reaches the
threshold. Each has a short ``code``: the ``?promoter=`` value of their links."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.distribution.settings import DistributionError, DistributionNotFound, get_settings
from siyu.store.models import Contact, Order, Promoter, utcnow

#: No 0/O or 1/I: codes are read off posters and typed by hand.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
STATUSES = ("pending", "approved", "rejected")


def new_code() -> str:
    return "P" + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH - 1))


def promoter_of(session: Session, contact_id: int) -> Promoter | None:
    """The contact's promoter row, also when it was made for a contact since merged into this
    one (promoter rows stay with their contact on a merge)."""
    absorbed = select(Contact.id).where(Contact.merged_into_id == contact_id)
    return session.scalar(
        select(Promoter)
        .where((Promoter.contact_id == contact_id) | Promoter.contact_id.in_(absorbed))
        .order_by(Promoter.id)
        .limit(1)
    )


def by_code(session: Session, code: str) -> Promoter | None:
    return session.scalar(select(Promoter).where(Promoter.code == str(code).strip().upper()[:32]))


def get_promoter(session: Session, code: str) -> Promoter:
    p = by_code(session, code)
    if p is None:
        raise DistributionNotFound(
            "promoter_not_found", f"promoter: no promoter with code {code!r}", field="promoter"
        )
    return p


def _create(session: Session, contact_id: int, status: str, source: str, now: datetime) -> Promoter:
    """A new promoter row; concurrent creators of the same contact end with one row (the
    unique index on ``contact_id`` decides, the loser reads the winner's)."""
    for _ in range(5):
        p = Promoter(contact_id=contact_id, code=new_code(), status=status, source=source, applied_at=now)
        if status == "approved":
            p.decided_at, p.decided_by = now, source
        try:
            with session.begin_nested():
                session.add(p)
                session.flush()
            return p
        except IntegrityError:
            found = promoter_of(session, contact_id)
            if found is not None:
                return found
    raise DistributionError("code_collision", "code: could not draw a free promoter code", field="code")


def apply(session: Session, contact_id: int, actor: str, note: str | None = None) -> Promoter:
    """An application. In 人人分销 it is approved at once; an existing promoter is returned as
    is (a rejected one may apply again: back to pending)."""
    settings = get_settings(session)
    now = utcnow()
    p = promoter_of(session, contact_id)
    status = "approved" if settings.mode == "everyone" else "pending"
    if p is None:
        p = _create(session, contact_id, status, "application", now)
    elif p.status == "rejected":
        p.status, p.applied_at, p.decided_at, p.decided_by = status, now, None, None
        if status == "approved":
            p.decided_at, p.decided_by = now, "everyone"
    if note:
        p.note = note[:200]
    audit.record(session, actor, "distribution.promoter_applied", "promoter", p.id, {"status": p.status})
    session.flush()
    return p


def decide(session: Session, code: str, approve: bool, actor: str, note: str | None = None) -> Promoter:
    """An operator's approval or rejection (either may be undone by the other)."""
    p = get_promoter(session, code)
    p.status = "approved" if approve else "rejected"
    p.decided_at, p.decided_by = utcnow(), actor[:200]
    if note:
        p.note = note[:200]
    action = "distribution.promoter_approved" if approve else "distribution.promoter_rejected"
    audit.record(session, actor, action, "promoter", p.id, {"code": p.code})
    session.flush()
    return p


def set_openid(session: Session, code: str, openid: str | None, actor: str) -> Promoter:
    p = get_promoter(session, code)
    p.openid = (openid or "").strip()[:128] or None
    audit.record(session, actor, "distribution.promoter_account", "promoter", p.id, {})
    session.flush()
    return p


def spend_of(session: Session, contact_id: int) -> Decimal:
    """What the contact has paid and kept (orders' totals less refunds)."""
    got = session.scalar(
        select(func.coalesce(func.sum(Order.total - Order.refunded), 0)).where(Order.contact_id == contact_id)
    )
    return Decimal(str(got or 0))


def auto_promote(session: Session, contact_id: int, now: datetime) -> Promoter | None:
    """Make the buyer a promoter when their cumulative spend reached the threshold (a
    rejected or pending promoter is left to the operator's decision)."""
    settings = get_settings(session)
    if not settings.enabled or settings.auto_threshold is None:
        return None
    if promoter_of(session, contact_id) is not None:
        return None
    if spend_of(session, contact_id) < settings.auto_threshold:
        return None
    return _create(session, contact_id, "approved", "spend", now)


def promoter_dict(p: Promoter) -> dict[str, Any]:
    return {
        "code": p.code,
        "contact_id": p.contact_id,
        "status": p.status,
        "source": p.source,
        "openid": p.openid,
        "note": p.note,
        "applied_at": p.applied_at.isoformat() if p.applied_at else None,
        "decided_at": p.decided_at.isoformat() if p.decided_at else None,
        "decided_by": p.decided_by,
    }


def list_promoters(
    session: Session, status: str | None = None, limit: int = 200, offset: int = 0
) -> list[Promoter]:
    if status is not None and status not in STATUSES:
        raise DistributionError(
            "invalid_choice", f"status: expected one of {', '.join(STATUSES)}", field="status"
        )
    # clamped: a page size or offset no column type can hold names nothing, not a driver error
    limit, offset = max(1, min(limit, 100_000)), max(0, min(offset, 100_000_000))
    q = select(Promoter).order_by(Promoter.id.desc()).limit(limit).offset(offset)
    if status:
        q = q.where(Promoter.status == status)
    return list(session.scalars(q))
