"""Rows written straight into the system of record for the loyalty analyses' tests (the
services that normally write them are other helpers' work; these tests check the analyses'
definitions, so they state the rows themselves)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from siyu.analytics.base import run_analysis
from siyu.analytics.result import AnalysisResult
from siyu.context import AppContext
from siyu.store.models import Contact, Order

ZONE = "Asia/Shanghai"


def utc(text: str) -> datetime:
    """``"2026-03-01 10:00"`` as an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def bj(text: str) -> datetime:
    """A Beijing wall time (UTC+8) as the aware UTC instant it is."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def contacts(s: Session, n: int) -> list[int]:
    rows = [Contact(created_at=utc("2025-12-01 00:00")) for _ in range(n)]
    s.add_all(rows)
    s.flush()
    return [c.id for c in rows]


def order(
    s: Session,
    contact_id: int,
    no: str,
    at: datetime,
    total: str,
    refunded: str = "0",
    status: str | None = None,
    currency: str = "CNY",
    source: str = "mini_program",
) -> Order:
    paid, back = Decimal(total), Decimal(refunded)
    if status is None:
        status = "completed" if back == 0 else ("refunded" if back >= paid else "partially_refunded")
    row = Order(
        contact_id=contact_id,
        source=source,
        order_no=no,
        status=status,
        currency=currency,
        total=paid,
        revenue=paid,
        refunded=back,
        ordered_at=at,
        properties={},
    )
    s.add(row)
    s.flush()
    return row


def run(ctx: AppContext, kind: str, **params: Any) -> AnalysisResult:
    """The analysis on a session of the system of record, as the Python API runs it."""
    with ctx.db.session() as s:
        return run_analysis(kind, params, None, s)
