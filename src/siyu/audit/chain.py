"""The audit log's hash chain: every entry carries the hash of the one before it.

An entry's hash is SHA-256 over the previous entry's hash and a canonical serialisation of the
entry (id, seq, time, actor, action, target, details). Editing an entry changes its hash;
removing one leaves a gap in ``seq`` and a ``prev_hash`` that no longer matches; so ``verify``
names the first entry where the chain breaks.

Entries are chained when the transaction that wrote them commits (a ``before_commit`` hook),
not when they are recorded: the lock that serialises appends is then held only for the commit,
not for the rest of a long transaction (an ingest batch that merged contacts), which would
serialise those transactions and let them deadlock with each other on PostgreSQL. Appending
takes a transaction-scoped advisory lock on PostgreSQL (two processes appending at once must
not both extend the same head and fork the chain; the unique index on ``seq`` would refuse the
second anyway); SQLite transactions here begin IMMEDIATE, so one writer at a time already.

The chain is as strong as the place its head is kept: someone who can write the database can
rewrite every entry after the one they changed and recompute the hashes. ``verify`` prints the
head (seq and hash); keeping it elsewhere (a ticket, a log shipper) makes that detectable too.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from siyu.store.locks import xact_lock
from siyu.store.models import AuditEntry
from siyu.store.settings import get_setting, put_setting

#: prev_hash of the very first entry.
GENESIS = "0" * 64
#: Settings rows: the last entry chained (checked by verify: entries after it missing) and the
#: last entry removed by retention (verify starts after it).
HEAD_SETTING = "audit.head"
CHECKPOINT_SETTING = "audit.checkpoint"
#: The action of the (chained) entry that records a checkpoint.
CHECKPOINT_ACTION = "audit.checkpoint"
#: The name of the PostgreSQL advisory lock that serialises appends.
APPEND_LOCK = "audit.append"
#: session.info key: this session recorded entries still to chain.
PENDING = "siyu.audit.pending"
_READ_CHUNK = 5_000


def _normal(value: Any) -> Any:
    """JSON as the database gives it back: string keys, and whole floats as integers
    (PostgreSQL's JSONB stores 1e16 as a number that comes back as 10000000000000000)."""
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def canonical(
    entry_id: int,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target_type: str | None,
    target_id: str | None,
    details: Any,
) -> bytes:
    stamp = at.astimezone(UTC).isoformat(timespec="microseconds") if at.tzinfo else at.isoformat()
    body = {
        "id": entry_id,
        "seq": seq,
        "at": stamp,
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "details": _normal(details),
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def entry_hash(prev_hash: str, entry_id: int, seq: int, row: Any) -> str:
    """The hash of an entry (``row`` has at, actor, action, target_type, target_id, details)."""
    body = canonical(
        entry_id, seq, row.at, row.actor, row.action, row.target_type, row.target_id, row.details
    )
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


_COLUMNS = (
    AuditEntry.id,
    AuditEntry.seq,
    AuditEntry.prev_hash,
    AuditEntry.hash,
    AuditEntry.at,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.target_type,
    AuditEntry.target_id,
    AuditEntry.details,
)


def lock_appends(session: Session) -> None:
    """Serialise appends to the chain until this transaction ends."""
    xact_lock(session, APPEND_LOCK)


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the last chained entry, or the checkpoint's, or (0, GENESIS)."""
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    if row is not None:
        return int(row[0]), str(row[1])
    cp = get_setting(session, CHECKPOINT_SETTING)
    return (int(cp["seq"]), str(cp["hash"])) if cp else (0, GENESIS)


def seal(session: Session) -> int:
    """Chain every committed-or-own entry not chained yet, in id order; returns how many.

    Reads the rows back from the database rather than hashing the objects in memory, so the
    hash covers exactly what is stored (JSON as the database normalises it)."""
    session.flush()
    lock_appends(session)
    seq, prev = head(session)
    sealed = 0
    while True:
        rows = session.execute(
            select(*_COLUMNS).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id).limit(_READ_CHUNK)
        ).all()
        if not rows:
            break
        changes = []
        for row in rows:
            seq += 1
            digest = entry_hash(prev, row.id, seq, row)
            changes.append({"_id": row.id, "_seq": seq, "_prev": prev, "_hash": digest})
            prev = digest
        t = AuditEntry.__table__
        session.execute(
            update(t)
            .where(t.c.id == bindparam("_id"))
            .values(seq=bindparam("_seq"), prev_hash=bindparam("_prev"), hash=bindparam("_hash")),
            changes,
            execution_options={"synchronize_session": False},
        )
        _refresh_loaded(session, changes)
        sealed += len(rows)
        if len(rows) < _READ_CHUNK:
            break
    if sealed:
        put_setting(session, HEAD_SETTING, {"seq": seq, "hash": prev})
    return sealed


def _refresh_loaded(session: Session, changes: list[dict[str, Any]]) -> None:
    """Entries of this session keep their chain values after commit (expire_on_commit=False)."""
    by_id = {c["_id"]: c for c in changes}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, AuditEntry) and obj.id in by_id:
            c = by_id[obj.id]
            set_committed_value(obj, "seq", c["_seq"])
            set_committed_value(obj, "prev_hash", c["_prev"])
            set_committed_value(obj, "hash", c["_hash"])


def mark_pending(session: Session) -> None:
    session.info[PENDING] = True


@event.listens_for(Session, "before_commit")
def _seal_on_commit(session: Session) -> None:
    if session.info.pop(PENDING, False):
        seal(session)


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)


# --- verify -------------------------------------------------------------------------------------
@dataclass
class Broken:
    """The first entry where the chain breaks. ``problem``: ``changed`` (the entry's content no
    longer matches its hash), ``missing_before`` (entries before it were removed), ``relinked``
    (its prev_hash is not the previous entry's hash: that one was replaced), ``missing_after``
    (entries after the last one were removed), ``checkpoint`` (the retention checkpoint does
    not match the entry that recorded it)."""

    id: int | None
    seq: int | None
    problem: str
    message: str


@dataclass
class Verification:
    ok: bool
    entries: int
    unchained: int = 0
    checkpoint: dict[str, Any] | None = None
    head: dict[str, Any] | None = None
    broken: Broken | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return data


def verify(session: Session) -> Verification:
    """Walk the chain from the retention checkpoint (or the start) to the head."""
    cp = get_setting(session, CHECKPOINT_SETTING)
    expected_seq, prev = (int(cp["seq"]) + 1, str(cp["hash"])) if cp else (1, GENESIS)
    result = Verification(ok=True, entries=0, checkpoint=cp)
    last: Any = None
    cp_entry_seen = cp is None
    after = expected_seq - 1
    while result.broken is None:
        rows = session.execute(
            select(*_COLUMNS)
            .where(AuditEntry.seq.is_not(None), AuditEntry.seq > after)
            .order_by(AuditEntry.seq)
            .limit(_READ_CHUNK)
        ).all()
        if not rows:
            break
        for row in rows:
            result.broken = _check(row, expected_seq, prev)
            if result.broken is not None:
                break
            if cp is not None and row.action == CHECKPOINT_ACTION and row.details:
                same = row.details.get("seq") == cp["seq"] and row.details.get("hash") == cp["hash"]
                cp_entry_seen = cp_entry_seen or same
            result.entries += 1
            expected_seq, prev, last = row.seq + 1, row.hash, row
        after = rows[-1].seq
    if result.broken is None:
        result.broken = _check_ends(session, cp, cp_entry_seen, last)
    result.unchained = int(
        session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_(None))) or 0
    )
    if last is not None:
        result.head = {"id": last.id, "seq": last.seq, "hash": last.hash}
    result.ok = result.broken is None
    return result


def _check(row: Any, expected_seq: int, prev: str) -> Broken | None:
    if entry_hash(row.prev_hash or "", row.id, row.seq, row) != row.hash:
        return Broken(row.id, row.seq, "changed", f"entry #{row.id} was changed after it was written")
    if row.seq != expected_seq:
        gone = row.seq - expected_seq
        return Broken(
            row.id,
            row.seq,
            "missing_before",
            f"{gone} entr{'y' if gone == 1 else 'ies'} before #{row.id} (seq {expected_seq}"
            f"{'' if gone == 1 else f'–{row.seq - 1}'}) were removed",
        )
    if row.prev_hash != prev:
        return Broken(
            row.id, row.seq, "relinked", f"the entry before #{row.id} (seq {expected_seq - 1}) was replaced"
        )
    return None


def _check_ends(session: Session, cp: dict[str, Any] | None, cp_entry_seen: bool, last: Any) -> Broken | None:
    if not cp_entry_seen:
        return Broken(None, cp["seq"] if cp else None, "checkpoint", "the retention checkpoint was changed")
    recorded = get_setting(session, HEAD_SETTING)
    if recorded and (last is None or int(recorded["seq"]) > int(last.seq)):
        shown = last.seq if last is not None else (cp["seq"] if cp else 0)
        return Broken(
            None,
            int(recorded["seq"]),
            "missing_after",
            f"entries after seq {shown} up to seq {recorded['seq']} were removed",
        )
    return None
