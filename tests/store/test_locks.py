"""Named PostgreSQL locks belong to one installation (one schema): a lock held by siyu in one
schema never blocks, nor is skipped by, siyu in another schema of the same database. CI found
this as a journey test that lost its follower pass to a test running in another schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from siyu.store.locks import try_xact_lock, try_xact_locks_for, xact_lock, xact_locks_for


@pytest.fixture
def other_schema(db_url: str) -> Iterator[Engine]:
    """A second schema in the test's database, reached the way an installation reaches its own."""
    base, _, _ = db_url.partition("?")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(f"{base}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.postgresql_only("SQLite has one writer: there is nothing to lock")
def test_a_lock_is_held_per_schema(db_url: str, other_schema: Engine) -> None:
    here = create_engine(db_url)
    try:
        with Session(here) as holder, Session(here) as rival, Session(other_schema) as elsewhere:
            xact_lock(holder, "journeys.follower")
            assert try_xact_lock(rival, "journeys.follower") is False  # same installation: held
            assert try_xact_lock(rival, "audit.append") is True  # another name: free
            assert try_xact_lock(elsewhere, "journeys.follower") is True  # another schema: free
            rival.rollback()
            holder.rollback()  # the transaction ends, so does the lock
            assert try_xact_lock(rival, "journeys.follower") is True
    finally:
        here.dispose()


@pytest.mark.postgresql_only("SQLite has one writer: there is nothing to lock")
def test_a_lock_per_id_is_held_per_name_id_and_schema(db_url: str, other_schema: Engine) -> None:
    """The frequency caps lock one contact at a time: contact 7's lock blocks contact 7 only,
    of this name and this installation."""
    here = create_engine(db_url)
    try:
        with Session(here) as holder, Session(here) as rival, Session(other_schema) as elsewhere:
            xact_locks_for(holder, "journeys.caps", [9, 7])
            assert try_xact_locks_for(rival, "journeys.caps", [6, 7, 8, 9]) == {7, 9}
            assert try_xact_locks_for(holder, "journeys.caps", [7]) == set()  # its own: re-taken
            assert try_xact_locks_for(rival, "other", [7]) == set()
            assert try_xact_locks_for(elsewhere, "journeys.caps", [7, 9]) == set()
            holder.rollback()
            rival.rollback()
            assert try_xact_locks_for(rival, "journeys.caps", [7, 9]) == set()
    finally:
        here.dispose()


def test_sqlite_needs_no_lock(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with Session(engine) as one, Session(engine) as two:
        xact_lock(one, "journeys.follower")
        assert try_xact_lock(two, "journeys.follower") is True
        xact_locks_for(one, "journeys.caps", [1, 2])
        assert try_xact_locks_for(two, "journeys.caps", [1, 2]) == set()
    engine.dispose()
