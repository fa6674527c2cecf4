"""Erasure (PIPL art. 47) through the real CLI: afterwards no table of the system of record, no
table of the warehouse and no file of the data directory (the SQLite database and its WAL
included) holds the person's identifiers, traits, events or messages, nor their contact ids —
while the control person is untouched. The receipt names only counts and an opaque id."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import inspect, select, text
from tests.cli.conftest import Cli, cli_env
from tests.privacy.conftest import CONTROL_NAME, CONTROL_PHONE, PHONE, PHONE_E164, SECRETS, Person

from siyu.client import Siyu
from siyu.config import Settings
from siyu.privacy.service import receipt_digest
from siyu.profiles.views import LookupError_
from siyu.store.models import AuditEntry, PrivacyDeletion, WarehouseErasure


def sor_rows(person: Person) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the database really has (not only the models' tables)."""
    engine = person.ctx.db.engine
    out = {}
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            out[table] = [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{table}"'))]
    return out


def contact_id_columns(person: Person) -> dict[str, list[int]]:
    engine = person.ctx.db.engine
    found = {}
    with engine.connect() as conn:
        insp = inspect(conn)
        for table in insp.get_table_names():
            if "contact_id" in {c["name"] for c in insp.get_columns(table)}:
                found[table] = [r[0] for r in conn.execute(text(f'SELECT contact_id FROM "{table}"'))]
    return found


def warehouse_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return {t: conn.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    finally:
        conn.close()


def warehouse_ids(path: Path) -> set[int]:
    """Contact ids in any ``contact_id`` column of the warehouse, and its contacts' ids."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'contact_id'"
        ).fetchall()
        ids = {r[0] for (t,) in tables for r in conn.execute(f'SELECT contact_id FROM "{t}"').fetchall()}
        ids |= {v for r in conn.execute("SELECT id, merged_into_id FROM contacts").fetchall() for v in r}
        return ids
    finally:
        conn.close()


def files_of(settings: Settings) -> list[Path]:
    paths = [p for p in settings.data_dir.rglob("*") if p.is_file()]
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///"))
        paths += [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]
    return paths


def leaks(texts: dict[str, list[tuple[Any, ...]]]) -> list[tuple[str, str]]:
    return [(table, s) for table, rows in texts.items() for r in rows for s in SECRETS if s in repr(r)]


def test_cli_delete_leaves_nothing_of_the_person(person: Person, settings: Settings) -> None:
    cli = Cli(cli_env(settings))
    cli.json("warehouse", "feed")
    before = warehouse_rows(settings.resolved_warehouse_path)
    assert any(r[2] in person.family for r in before["events"])  # the warehouse held them
    assert leaks(sor_rows(person))  # and the scan does find what is there

    receipt = cli.json("contacts", "delete", PHONE)

    assert receipt["deletion_id"].startswith("del_") and receipt["warehouse"] == "erased"
    for kind in (
        "identifiers",
        "traits",
        "events",
        "messages",
        "contacts",
        "merges",
        "tags",
        "consents",
        "journey_enrolments",
        "segments",
        "rfm",
        "scores",
        "stage",
        "short_links",
        "dead_letter_lines",
    ):
        assert receipt["counts"].get(kind, 0) >= 1, kind
    assert receipt["counts"]["contacts"] == 2  # the merged-away contact went too
    assert receipt["total"] == sum(receipt["counts"].values())
    assert receipt["digest"] == receipt_digest(receipt["deletion_id"], receipt["at"], receipt["counts"])
    cli.json("warehouse", "feed")

    # System of record: no value of theirs in any row, no contact_id of theirs in any column.
    assert leaks(sor_rows(person)) == []
    held = {t: sorted(set(ids) & set(person.family)) for t, ids in contact_id_columns(person).items()}
    assert {t: ids for t, ids in held.items() if ids} == {}
    # Warehouse: the same, in every table of it.
    after = warehouse_rows(settings.resolved_warehouse_path)
    assert leaks(after) == []
    assert warehouse_ids(settings.resolved_warehouse_path) & set(person.family) == set()
    # Files: not a byte of it anywhere under the data directory, nor in the database and its WAL.
    for path in files_of(settings):
        data = path.read_bytes()
        found = [s for s in SECRETS if s.encode() in data]
        assert found == [], (path, found)

    # The control person is untouched, and the scans would have seen them.
    control = Siyu(person.ctx).contact(CONTROL_PHONE)
    assert control["traits"]["name"] == CONTROL_NAME
    assert any(CONTROL_NAME in repr(r) for rows in sor_rows(person).values() for r in rows)
    assert any(r[2] == person.control for r in after["events"])
    dead = (settings.dead_letter_dir / "import-1-contacts.rejected.jsonl").read_text()
    assert CONTROL_NAME in dead and dead.count("\n") == 1


def test_receipt_is_stored_and_the_audit_names_only_the_deletion(person: Person, settings: Settings) -> None:
    receipt = Cli(cli_env(settings)).json("contacts", "delete", f"id:{person.survivor}")
    with person.ctx.db.session() as s:
        stored = s.scalar(
            select(PrivacyDeletion).where(PrivacyDeletion.deletion_id == receipt["deletion_id"])
        )
        assert (
            stored is not None and stored.digest == receipt["digest"] and stored.counts == receipt["counts"]
        )
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "contact.deleted")).all()
        assert (entry.target_type, entry.target_id, entry.actor) == (
            "deletion",
            receipt["deletion_id"],
            "cli",
        )
        assert set(entry.details) == {"rows", "digest"}  # no contact id, no identifier
    listed = Cli(cli_env(settings)).json("privacy", "deletions")
    assert [r["deletion_id"] for r in listed] == [receipt["deletion_id"]]
    # A receipt whose counts were altered no longer matches its digest.
    forged = {**receipt["counts"], "events": receipt["counts"]["events"] + 1}
    assert receipt_digest(receipt["deletion_id"], receipt["at"], forged) != receipt["digest"]
    assert hashlib.sha256(b"x").hexdigest() != receipt["digest"]


HOLD = """
import select, sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("holding", flush=True)
select.select([sys.stdin], [], [], 60)
conn.close()
"""


def test_a_busy_warehouse_is_erased_by_the_next_feed(person: Person, settings: Settings) -> None:
    client = Siyu(person.ctx)
    client.feed_warehouse()
    # Another process holds the file, as `siyu serve`'s feeder does (it gives up after 60 s).
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.resolved_warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"holding\n"
        receipt = client.privacy.delete(PHONE, warehouse_wait_s=0.0)
    finally:
        holder.communicate(b"done\n", timeout=60)
    assert receipt["warehouse"] == "pending"
    with person.ctx.db.session() as s:
        assert len(s.scalars(select(WarehouseErasure)).all()) == 1
    assert any(r[2] in person.family for r in warehouse_rows(settings.resolved_warehouse_path)["events"])
    assert client.feed_warehouse().erasures == 1
    rows = warehouse_rows(settings.resolved_warehouse_path)
    assert not any(r[2] in person.family for r in rows["events"]) and leaks(rows) == []
    with person.ctx.db.session() as s:
        assert s.scalars(select(WarehouseErasure)).all() == []  # the queue forgets the ids
    # A rebuild from the system of record brings nothing of them back.
    client.feed_warehouse(rebuild=True)
    assert leaks(warehouse_rows(settings.resolved_warehouse_path)) == []


def test_deleting_an_unknown_person_changes_nothing(person: Person, settings: Settings) -> None:
    cli = Cli(cli_env(settings))
    assert "no contact matches" in cli.fails("contacts", "delete", "13700000001")
    assert Siyu(person.ctx).contact(PHONE)["id"] == person.survivor
    with person.ctx.db.session() as s:
        assert s.scalars(select(PrivacyDeletion)).all() == []


def test_erasure_empties_the_phone_cache(person: Person) -> None:
    parser = person.ctx.parser
    parser.parse("phone", PHONE)
    parser.parse("phone", CONTROL_PHONE)
    Siyu(person.ctx).privacy.delete(PHONE)
    cached = set(parser._phone_cache) | set(parser._phone_cache.values())
    assert PHONE not in cached and PHONE_E164 not in cached
    assert CONTROL_PHONE in cached


def test_two_erasures_of_one_person_at_once_give_one_receipt(person: Person) -> None:
    client = Siyu(person.ctx)
    outcomes: list[object] = []

    def erase() -> None:
        try:
            outcomes.append(client.privacy.delete(PHONE, warehouse_wait_s=0.0)["deletion_id"])
        except LookupError_ as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=erase) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    receipts = [o for o in outcomes if isinstance(o, str)]
    assert len(outcomes) == 2 and len(receipts) == 1, outcomes
    with person.ctx.db.session() as s:
        assert len(s.scalars(select(PrivacyDeletion)).all()) == 1
