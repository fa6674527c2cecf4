"""Everything siyu writes is private to its user: the data directory 0700 and every file in it
0600 — the SQLite database with its WAL and SHM, the DuckDB warehouse, dead letters, staged
uploads — checked with os.stat after real work, and older, wider files are narrowed."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from siyu.client import Siyu
from siyu.config import Settings
from siyu.context import AppContext
from siyu.ingest import jobs
from siyu.store.engine import Database
from siyu.store.private import tighten


def modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return out


def too_open(found: dict[str, int]) -> dict[str, str]:
    return {name: oct(mode) for name, mode in found.items() if mode & 0o077}


def test_files_of_real_work_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ctx = AppContext.from_settings(Settings(data_dir=data, secret_key=None))  # SQLite in the data dir
    try:
        ctx.db.upgrade()
        client = Siyu(ctx)
        client.batch([{"type": "identify", "userId": "C1", "traits": {"phone": "13912345678"}}])
        rows = tmp_path / "rows.csv"
        rows.write_text("phone,email\nnot-a-phone,bad@@\n")  # nothing usable: a dead letter
        assert client.import_file(rows, "contacts").rejected == 1
        client.feed_warehouse()
        upload = jobs.stage_upload(data / "uploads", "客户.csv")
        upload.write_text("phone\n13800138001\n")
        found = modes(data)  # the database is open: its WAL and SHM exist now
        names = set(found)
        assert {"siyu.db", "siyu.db-wal", "siyu.db-shm", "warehouse.duckdb", "secret.key"} <= names
        assert any(n.startswith("dead-letters/") for n in names)
        assert any(n.startswith("uploads/") for n in names)
        assert found["."] == 0o700
        assert not too_open(found), too_open(found)
    finally:
        ctx.close()


def test_sqlite_files_are_private_even_under_a_wide_umask(tmp_path: Path) -> None:
    """The database file is created 0600 before SQLite opens it, and SQLite gives its WAL and
    SHM the database file's mode — whatever the process umask."""
    old = os.umask(0o022)
    try:
        db = Database(f"sqlite:///{tmp_path / 'nested' / 'x.db'}")
        db.upgrade()
        with db.session() as s:
            s.execute(text("SELECT 1"))
        found = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "nested").iterdir()}
        db.dispose()
    finally:
        os.umask(old)
    assert {"x.db", "x.db-wal"} <= set(found) and not too_open(found), found


def test_an_existing_wide_data_dir_is_narrowed(tmp_path: Path) -> None:
    data = tmp_path / "old-data"
    (data / "dead-letters").mkdir(parents=True)
    for path, mode in ((data, 0o755), (data / "dead-letters", 0o777)):
        path.chmod(mode)
    old_file = data / "dead-letters" / "import-1-客户.rejected.jsonl"
    old_file.write_text("{}\n")
    old_file.chmod(0o644)
    link_target = tmp_path / "outside.txt"
    link_target.write_text("not ours")
    link_target.chmod(0o644)
    (data / "link").symlink_to(link_target)
    tighten(data)
    assert not too_open({k: v for k, v in modes(data).items() if k != "link"})
    assert stat.S_IMODE(link_target.stat().st_mode) == 0o644  # a link is not followed out


def test_the_server_keeps_its_files_private(server: Any, console_as: Callable[[str], Any]) -> None:
    """A console upload (staged in the data dir until imported) and the dead letters it leaves."""
    browser = console_as("operator")
    answer = browser.post_form(
        "/console/imports",
        {"kind": "contacts"},
        files={"file": ("名单.csv", b"phone,email\n13800138000,bad@@\n", "text/csv")},
    )
    assert answer.status_code == 200
    data = server.client.ctx.settings.data_dir
    assert not too_open(modes(data)), too_open(modes(data))
