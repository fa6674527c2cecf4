"""The audit log's hash chain: an untouched log verifies; an entry edited, removed, replaced
or cut off the end directly in the database is named; concurrent writers never fork it."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select, text, update

from siyu.audit import chain
from siyu.audit import service as audit
from siyu.context import AppContext
from siyu.store.models import AuditEntry


def write(ctx: AppContext, n: int, actor: str = "test") -> list[int]:
    ids = []
    for i in range(n):
        with ctx.db.session() as s:
            audit.record(s, actor, "thing.done", "thing", i, {"n": i, "名": "张三", "f": [1.5, 1e16, None]})
            s.flush()
            ids.append(s.scalars(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)).one())
    return ids


def verify(ctx: AppContext) -> chain.Verification:
    with ctx.db.session() as s:
        return chain.verify(s)


def test_an_untouched_log_verifies(ctx: AppContext) -> None:
    ids = write(ctx, 5)
    with ctx.db.session() as s:  # several entries in one transaction too
        for i in range(3):
            audit.record(s, "bulk", "thing.done", details={"i": i})
    result = verify(ctx)
    assert result.ok and result.broken is None
    assert result.entries == 8 and result.unchained == 0
    with ctx.db.session() as s:
        rows = s.execute(select(AuditEntry.id, AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash)).all()
    by_seq = sorted(rows, key=lambda r: r.seq)
    assert [r.seq for r in by_seq] == list(range(1, 9))
    assert by_seq[0].prev_hash == chain.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(by_seq))
    assert [r.id for r in by_seq[:5]] == ids
    assert result.head == {"id": by_seq[-1].id, "seq": 8, "hash": by_seq[-1].hash}
    assert result.dump()["ok"] is True


def test_editing_an_entry_is_reported_at_that_entry(ctx: AppContext) -> None:
    ids = write(ctx, 5)
    with ctx.db.engine.begin() as conn:
        conn.execute(update(AuditEntry.__table__).where(AuditEntry.id == ids[2]).values(details={"n": 99}))
    result = verify(ctx)
    assert not result.ok
    assert result.broken is not None
    assert (result.broken.id, result.broken.seq, result.broken.problem) == (ids[2], 3, "changed")
    assert f"#{ids[2]}" in result.broken.message
    assert result.entries == 2  # the entries before it are fine


def test_editing_the_actor_with_raw_sql_is_reported(ctx: AppContext) -> None:
    ids = write(ctx, 3)
    with ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE id = :id"), {"id": ids[0]})
    broken = verify(ctx).broken
    assert broken is not None and (broken.id, broken.problem) == (ids[0], "changed")


def test_deleting_a_middle_entry_is_reported(ctx: AppContext) -> None:
    ids = write(ctx, 5)
    with ctx.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[2]})
    result = verify(ctx)
    assert not result.ok and result.broken is not None
    assert (result.broken.id, result.broken.problem) == (ids[3], "missing_before")
    assert "seq 3" in result.broken.message


def test_deleting_the_newest_entries_is_reported(ctx: AppContext) -> None:
    ids = write(ctx, 4)
    with ctx.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id >= :id"), {"id": ids[2]})
    broken = verify(ctx).broken
    assert broken is not None and broken.problem == "missing_after" and broken.seq == 4


def test_an_entry_rewritten_with_a_recomputed_hash_breaks_the_link_after_it(ctx: AppContext) -> None:
    ids = write(ctx, 4)
    with ctx.db.session() as s:
        row = s.get(AuditEntry, ids[1])
        assert row is not None and row.seq is not None and row.prev_hash is not None
        row.details = {"n": 1, "forged": True}
        s.flush()
        forged = chain.entry_hash(row.prev_hash, row.id, row.seq, row)
        s.execute(update(AuditEntry.__table__).where(AuditEntry.id == row.id).values(hash=forged))
    broken = verify(ctx).broken
    assert broken is not None and (broken.id, broken.problem) == (ids[2], "relinked")


def test_a_rolled_back_entry_leaves_no_gap(ctx: AppContext) -> None:
    write(ctx, 2)
    with pytest.raises(RuntimeError), ctx.db.session() as s:
        audit.record(s, "test", "undone")
        s.flush()
        raise RuntimeError("the change failed")
    write(ctx, 1)
    result = verify(ctx)
    assert result.ok and result.entries == 3


def test_entries_written_before_the_chain_are_chained_by_the_next_commit(ctx: AppContext) -> None:
    with ctx.db.engine.begin() as conn:  # as after the upgrade: rows without seq and hash
        for i in range(3):
            conn.execute(
                AuditEntry.__table__.insert().values(
                    at=AuditEntry.__table__.c.at.default.arg(None), actor="old", action=f"legacy.{i}"
                )
            )
    assert verify(ctx).unchained == 3
    write(ctx, 1)
    result = verify(ctx)
    assert result.ok and result.entries == 4 and result.unchained == 0
    with ctx.db.session() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions == ["legacy.0", "legacy.1", "legacy.2", "thing.done"]


def test_concurrent_writers_never_fork_the_chain(ctx: AppContext) -> None:
    """Eight threads append at once, each holding its transaction open a little after
    recording (as a merge inside an ingest batch does): on PostgreSQL the ids then commit out
    of order, yet the chain stays one line."""
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(k: int) -> None:
        try:
            start.wait()
            for i in range(6):
                with ctx.db.session() as s:
                    audit.record(s, f"w{k}", "thing.done", details={"k": k, "i": i})
                    s.flush()
                    time.sleep(0.002 * ((k + i) % 3))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    result = verify(ctx)
    assert result.ok, result.broken
    assert result.entries == 48 and result.unchained == 0
    with ctx.db.session() as s:
        seqs = sorted(s.scalars(select(AuditEntry.seq)).all())
    assert seqs == list(range(1, 49))


def test_session_objects_carry_their_chain_values_after_commit(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        audit.record(s, "test", "one")
        audit.record(s, "test", "two")
        s.flush()
        rows: list[Any] = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [r.seq for r in rows] == [1, 2]
    assert rows[1].prev_hash == rows[0].hash
