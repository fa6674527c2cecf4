"""The must-show tour: identify contacts by phone, reach them by phone and email in REST URLs,
change consent, import a CSV with bad lines full of phones and emails, feed the warehouse — then
no file in the data directory (the SQLite WAL read before any checkpoint, the DuckDB file, dead
letters) and no table's text (PostgreSQL, and the warehouse's own tables) holds any phone or
email used, in E.164 or as typed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import inspect, text

from siyu.ingest import dead_letters
from siyu.warehouse.store import Warehouse

PHONES = ["13912340001", "13912340002", "13912340003", "13912340004", "13912340005", "13912340006"]
EMAILS = ["Tour.One@Example.com", "tour2@example.cn", "bad-row@example.com", "prop@example.com"]


def needles() -> list[bytes]:
    out: list[str] = []
    for p in PHONES:
        out += [p, "+86" + p, f"{p[:3]} {p[3:7]} {p[7:]}"]
    out += EMAILS + [e.lower() for e in EMAILS]
    return sorted({s.encode() for s in out})


def grep_files(*roots: Path) -> dict[str, list[str]]:
    """Every file under the ``roots`` (directories or files), read as bytes (UTF-8 and UTF-16
    spellings), for every needle."""
    hits: dict[str, list[str]] = {}
    paths = [r for r in roots if r.is_file()]
    paths += [Path(f) / n for r in roots if r.is_dir() for f, _d, names in os.walk(r) for n in names]
    for path in paths:
        data = path.read_bytes()
        found = [n.decode() for n in needles() if n in data or n.decode().encode("utf-16-le") in data]
        if found:
            hits[path.name] = found
    return hits


def grep_tables(conn: Any, tables: list[str], quote: Callable[[str], str]) -> dict[str, list[str]]:
    """Every row of every table as text, for every needle."""
    hits: dict[str, list[str]] = {}
    for table in tables:
        rows = conn.execute(text(f"SELECT CAST(t AS TEXT) FROM {quote(table)} AS t")).scalars()
        blob = "\n".join(str(r) for r in rows)
        found = [n.decode() for n in needles() if n.decode() in blob]
        if found:
            hits[table] = found
    return hits


def tour(server: Any, api_key: Callable[[str], str], tmp_path: Path) -> int:
    client = server.client
    write_key = client.create_source("tour-app")["write_key"]
    calls = [
        {
            "type": "identify",
            "messageId": "t1",
            "traits": {"phone": PHONES[0], "email": EMAILS[0], "name": "甲"},
        },
        {
            "type": "identify",
            "messageId": "t2",
            "identifiers": {"phone": "+86" + PHONES[1]},
            "traits": {"手机号": int(PHONES[1]), "邮箱": EMAILS[1]},
        },
        {
            "type": "track",
            "messageId": "t3",
            "identifiers": {"phone": PHONES[0]},
            "event": "order_paid",
            "properties": {"receiver": {"mobile": PHONES[2], "Email": EMAILS[3]}, "note": f"tel {PHONES[2]}"},
        },
    ]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        answer = http.post("/v1/batch", json={"batch": calls}, auth=(write_key, ""))
        assert answer.status_code == 200 and answer.json()["accepted"] == 3, answer.text
    operator = {"Authorization": f"Bearer {api_key('operator')}"}
    with httpx.Client(base_url=server.url, headers=operator, timeout=60) as http:
        assert http.get(f"/api/v1/contacts/{PHONES[0]}").status_code == 200
        assert http.get(f"/api/v1/contacts/%2B86{PHONES[1]}").status_code == 200
        for query in (PHONES[0], "phone:+86" + PHONES[1], EMAILS[0]):
            consent = {
                "purpose": "marketing",
                "channel": "sms",
                "granted": True,
                "evidence": {"form": "signup", "phone": PHONES[0]},
            }
            assert http.post(f"/api/v1/contacts/{query}/consent", json=consent).status_code == 201
        assert http.post(f"/api/v1/contacts/{PHONES[1]}/stage", json={"stage": "retention"}).status_code < 500
    csv = tmp_path / "contacts.csv"
    csv.write_text(
        "phone,email,name,mobile\n"
        f"{PHONES[3]},ok@example.org,丙,\n"
        # imported without their bad value, which is noted (the notes are encrypted too)
        f"{PHONES[4]},not-an-email@@x,丁,{PHONES[5]}\n"
        f"12,{EMAILS[2]},戊,\n"
        # rejected (one column too many): its phone and email only in the dead letter
        f"{PHONES[4]},{EMAILS[2]},己,,多余\n",
        encoding="utf-8",
    )
    report = client.import_file(csv, "contacts")
    assert (report.accepted, report.rejected, len(report.warnings)) == (3, 1, 2), report.as_dict()
    # the dead letters hold the rejected lines, readable decrypted (and only so)
    rows = dead_letters.read(report.dead_letter, client.ctx.keyring, reveal=True)
    assert {r["line"] for r in rows} == {5} and PHONES[4] in str(rows) and EMAILS[2] in str(rows)
    client.feed_warehouse()
    return report.job_id


def test_no_plaintext_phone_or_email_at_rest(
    server: Any, api_key: Callable[[str], str], tmp_path: Path
) -> None:
    ctx = server.client.ctx
    tour(server, api_key, tmp_path)
    stores = [ctx.settings.data_dir]
    sqlite = ctx.db.url.startswith("sqlite")
    if sqlite:  # the server still runs and nothing was closed: the WAL has not been checkpointed
        database = Path(ctx.db.url.split("///", 1)[1])
        wal = database.with_name(database.name + "-wal")
        assert wal.is_file() and wal.stat().st_size > 0
        stores += [database, wal, database.with_name(database.name + "-shm")]
        assert database.is_file()
    hits = grep_files(*stores)
    assert not hits, hits
    if not sqlite:
        with ctx.db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            assert "identities" in tables and "events" in tables
            hits = grep_tables(conn, tables, lambda t: f'"{t}"')
            assert not hits, hits
    # DuckDB compresses strings (FSST): the bytes alone could hide a value, so ask it for its text
    wh = Warehouse(ctx.settings.resolved_warehouse_path)
    try:
        names = [r[0] for r in wh.conn.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        assert "events" in names
        hits = {}
        for name in names:
            blob = "\n".join(str(r) for r in wh.conn.execute(f'SELECT * FROM "{name}"').fetchall())
            if found := [n.decode() for n in needles() if n.decode() in blob]:
                hits[name] = found
        assert not hits, hits
    finally:
        wh.close()
    ctx.db.dispose()  # checkpoints the WAL into the database file: still nothing
    hits = grep_files(*stores)
    assert not hits, hits


def test_positive_control_the_grep_finds_plaintext(tmp_path: Path) -> None:
    """The grep is not blind: a file holding a phone in E.164 is reported."""
    (tmp_path / "leak.txt").write_bytes(f"x +86{PHONES[0]} y".encode())
    (tmp_path / "leak16.txt").write_bytes(EMAILS[1].encode("utf-16-le"))
    assert set(grep_files(tmp_path)) == {"leak.txt", "leak16.txt"}
