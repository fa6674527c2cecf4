"""Key rotation: re-encrypt PII and recompute blind indexes with the first configured key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.profiles.pii import Keyring, last4_index
from siyu.store.models import Identity


def rotate(session: Session, keyring: Keyring, batch: int = 1000) -> int:
    """Rewrite every encrypted identity with the primary key. Safe to re-run: rows already under
    the primary key still get their blind index recomputed (cheap) so a half-finished rotation
    converges."""
    count = 0
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(Identity)
                .where(Identity.value_enc.is_not(None), Identity.id > last)
                .order_by(Identity.id)
                .limit(batch)
            )
        )
        if not rows:
            break
        for ident in rows:
            assert ident.value_enc is not None
            plain = keyring.decrypt(ident.value_enc, ident.type.encode())
            ident.lookup = keyring.blind_index(ident.type, plain)
            ident.last4 = last4_index(keyring, ident.type, plain)
            if keyring.needs_rewrap(ident.value_enc):
                ident.value_enc = keyring.encrypt(plain, ident.type.encode())
            count += 1
        last = rows[-1].id
        session.flush()
    audit.record(session, "cli", "keys.rotated", None, None, {"identities": count})
    return count


def needs_last4(session: Session) -> bool:
    """Whether any identity still lacks its last-4 index (one indexed probe)."""
    return session.scalar(select(Identity.id).where(Identity.last4.is_(None)).limit(1)) is not None


def backfill_last4(session: Session, keyring: Keyring, batch: int = 2000) -> int:
    """Fill ``identities.last4`` where it is NULL: rows from before migration 0008 and rows
    written in bulk (the demo generator). Phones are decrypted one batch at a time; other types
    get "". Idempotent; returns the number of rows filled."""
    count = 0
    while True:
        rows = list(
            session.scalars(
                select(Identity).where(Identity.last4.is_(None)).order_by(Identity.id).limit(batch)
            )
        )
        if not rows:
            return count
        for ident in rows:
            plain = keyring.decrypt(ident.value_enc, ident.type.encode()) if ident.value_enc else ident.value
            ident.last4 = last4_index(keyring, ident.type, plain or "")
        count += len(rows)
        session.flush()
