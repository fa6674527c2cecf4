"""Key rotation: re-encrypt PII and recompute blind indexes with the first configured key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.profiles.pii import Keyring
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
            if keyring.needs_rewrap(ident.value_enc):
                ident.value_enc = keyring.encrypt(plain, ident.type.encode())
            count += 1
        last = rows[-1].id
        session.flush()
    audit.record(session, "cli", "keys.rotated", None, None, {"identities": count})
    return count
