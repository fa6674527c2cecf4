"""The callback inbox: storing decrypted events once, processing them once, and showing them.

Processing is one transaction per event: the row is claimed (``status = 'pending'`` checked in
the same UPDATE that counts the attempt, so two processors never both run it), the handler runs
in a savepoint, and the row is marked ``done`` in the same commit as the handler's writes. A
handler that raises has its writes rolled back and the error recorded; the event is tried again
after a growing delay and given up (``failed``, visible in the console and CLI, retryable by an
operator) after ``MAX_ATTEMPTS``."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.store.dialect import insert_ignore
from siyu.store.models import WeComCallback, utcnow
from siyu.wecom.callbacks import NoHandler, handler_for

if TYPE_CHECKING:
    from siyu.context import AppContext

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
#: First retry after this delay, doubled each time (30 s, 1 min, 2 min, 4 min, then failed).
RETRY_BASE_S = 30.0
STATUSES = ("pending", "done", "unhandled", "failed")


class InboxError(ValueError):
    """A request about the inbox that cannot be carried out (unknown id, wrong state)."""


def dedup_key(event: dict[str, Any]) -> str:
    """Hash of the decrypted event: WeCom's retries and replays carry the same event (same
    ``CreateTime`` and fields), so they hash alike; two real events differ at least in time,
    type or ids. Independent of the envelope (nonce, timestamp, signature), which a retry may
    change."""
    return hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()


def row_for(provider_key: str, event: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "provider_key": provider_key,
        "dedup_key": dedup_key(event),
        "event": str(event.get("Event") or "")[:64],
        "change_type": str(event.get("ChangeType") or "")[:64],
        "payload": event,
        "received_at": now,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
    }


def store(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the rows not stored yet (by provider + dedup key); returns how many were new."""
    unique = list({(r["provider_key"], r["dedup_key"]): r for r in rows}.values())
    return insert_ignore(session, WeComCallback.__table__, unique, ("provider_key", "dedup_key"))


# --- processing -------------------------------------------------------------------------------
def process_one(ctx: AppContext, callback_id: int) -> str:
    """Process one event in its own transaction; returns its status afterwards (``skipped``
    when another processor has it or it is not due)."""
    with ctx.db.session() as session:
        now = utcnow()
        claimed = session.execute(
            update(WeComCallback)
            .where(WeComCallback.id == callback_id, WeComCallback.status == "pending")
            .values(attempts=WeComCallback.attempts + 1)
        ).rowcount
        if not claimed:
            session.rollback()
            return "skipped"
        row = session.get(WeComCallback, callback_id)
        assert row is not None
        try:
            handler = handler_for(row.event, row.change_type)
        except NoHandler as exc:
            row.status, row.last_error, row.processed_at = "unhandled", str(exc), now
            session.commit()
            return row.status
        try:
            with session.begin_nested():
                handler(session, ctx, row.provider_key, dict(row.payload))
        except Exception as exc:  # any handler error: recorded on the row, retried later
            log.warning("wecom callback %s (%s/%s) failed: %s", row.id, row.event, row.change_type, exc)
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            else:
                row.next_attempt_at = now + timedelta(seconds=RETRY_BASE_S * 2 ** (row.attempts - 1))
            session.commit()
            return row.status
        row.status, row.last_error, row.processed_at = "done", None, utcnow()
        session.commit()
        return row.status


def due(ctx: AppContext, limit: int = 200) -> list[int]:
    with ctx.db.session() as session:
        return list(
            session.scalars(
                select(WeComCallback.id)
                .where(WeComCallback.status == "pending", WeComCallback.next_attempt_at <= utcnow())
                .order_by(WeComCallback.id)
                .limit(limit)
            )
        )


def process_due(ctx: AppContext, limit: int = 200) -> dict[str, int]:
    """Process every due event (oldest first); the background sweep and the receiver's worker
    both call this. Returns counts by resulting status."""
    counts: dict[str, int] = {}
    for callback_id in due(ctx, limit):
        status = process_one(ctx, callback_id)
        counts[status] = counts.get(status, 0) + 1
    return counts


# --- reading and operator actions ---------------------------------------------------------
@dataclass
class CallbackView:
    id: int
    provider: str
    event: str
    change_type: str
    status: str
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    last_error: str | None
    payload: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "event": self.event,
            "change_type": self.change_type,
            "status": self.status,
            "attempts": self.attempts,
            "received_at": self.received_at.isoformat(),
            "processed_at": self.processed_at.isoformat() if self.processed_at else None,
            "last_error": self.last_error,
            "payload": self.payload,
        }


def _view(row: WeComCallback) -> CallbackView:
    return CallbackView(
        row.id,
        row.provider_key,
        row.event,
        row.change_type,
        row.status,
        row.attempts,
        row.received_at,
        row.processed_at,
        row.last_error,
        row.payload,
    )


def list_callbacks(
    session: Session, status: str | None = None, provider: str | None = None, limit: int = 50
) -> list[CallbackView]:
    if status is not None and status not in STATUSES:
        raise InboxError(f"status: one of {', '.join(STATUSES)}, not {status!r}")
    if not 1 <= limit <= 1000:
        raise InboxError(f"limit: 1–1000, not {limit}")
    stmt = select(WeComCallback).order_by(WeComCallback.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(WeComCallback.status == status)
    if provider is not None:
        stmt = stmt.where(WeComCallback.provider_key == provider)
    return [_view(r) for r in session.scalars(stmt)]


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(WeComCallback.status, func.count()).group_by(WeComCallback.status)).all()
    return {status: 0 for status in STATUSES} | {str(s): int(n) for s, n in rows}


def retry(session: Session, callback_id: int) -> CallbackView:
    """Put a failed (or unhandled) event back in the queue, with its attempts counted afresh."""
    row = session.get(WeComCallback, callback_id)
    if row is None:
        raise InboxError(f"no callback {callback_id}")
    if row.status not in ("failed", "unhandled"):
        raise InboxError(f"callback {callback_id} is {row.status}; only failed or unhandled ones are retried")
    row.status, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
    session.flush()
    return _view(row)


def retry_failed(session: Session) -> int:
    """Every failed event back in the queue."""
    return int(
        session.execute(
            update(WeComCallback)
            .where(WeComCallback.status == "failed")
            .values(status="pending", attempts=0, next_attempt_at=utcnow())
        ).rowcount
    )
