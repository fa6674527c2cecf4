"""Background imports (siyu.ingest.jobs): the job id comes back while the import runs, progress
is readable mid-way, errors before the job exists reach the caller, and GBK files become UTF-8."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.ingest import jobs
from siyu.ingest.dead_letters import DeadLetterWriter
from siyu.ingest.files import Progress
from siyu.ingest.readers import ImportFileError
from siyu.profiles.pii import Keyring


def _wait(ctx: AppContext, job_id: int) -> dict:
    deadline = time.monotonic() + 60
    while not (status := jobs.job_status(ctx.db, job_id, keyring=ctx.keyring))["done"]:  # type: ignore[index]
        assert time.monotonic() < deadline, status
        time.sleep(0.02)
    return status  # type: ignore[return-value]


def test_progress_mid_way_and_summary(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    path = jobs.stage_upload(tmp_path / "uploads", "../../客户 名单.csv")
    assert path.parent.parent == tmp_path / "uploads" and path.name == "客户_名单.csv"
    rows = ["phone,name"] + [f"1380013{i:04d},n{i}" for i in range(300)] + ["12345,bad"]
    path.write_text("\n".join(rows) + "\n")
    gate, reported = threading.Event(), threading.Event()

    def run(progress: Progress) -> object:
        def hold(nbytes: int, lines: int) -> None:
            progress(nbytes, lines)
            reported.set()
            gate.wait(30)

        return client.import_file(path, "contacts", progress=hold, batch_size=100)

    job_id = jobs.start_import(ctx.db, path, run)
    try:
        assert reported.wait(30)
        mid = jobs.job_status(ctx.db, job_id, keyring=ctx.keyring)
        assert mid is not None
        assert (mid["status"], mid["done"], mid["lines"], mid["accepted"]) == ("running", False, 100, 100)
        assert 0 < mid["percent"] < 100
        assert [j["id"] for j in jobs.recent_jobs(ctx.db)] == [job_id]
    finally:
        gate.set()
    done = _wait(ctx, job_id)
    assert (done["status"], done["percent"], done["lines"], done["accepted"], done["rejected"]) == (
        "done",
        100.0,
        301,
        300,
        1,
    )
    assert done["errors"] == [
        {"line": 302, "field": "identifiers.phone", "reason": done["errors"][0]["reason"]}
    ]
    assert done["file"] == "客户_名单.csv"
    deadline = time.monotonic() + 10
    while path.parent.exists():  # the staged upload is removed when the thread ends
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert jobs.job_status(ctx.db, job_id + 1000) is None


def test_errors_before_the_job_reach_the_caller(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    path = jobs.stage_upload(tmp_path, "notes.txt")
    path.write_text("phone\n13800138000\n")
    with pytest.raises(ImportFileError, match="cannot tell the format"):
        jobs.start_import(
            ctx.db, path, lambda progress: client.import_file(path, "contacts", progress=progress)
        )
    assert jobs.recent_jobs(ctx.db) == []


def test_gbk_is_converted_and_utf8_left_alone(tmp_path: Path) -> None:
    utf8 = tmp_path / "u.csv"
    utf8.write_text("手机,姓名\n13800138000,张三\n", encoding="utf-8")
    assert jobs.to_utf8(utf8) is None
    gbk = tmp_path / "g.csv"
    gbk.write_bytes("手机,姓名\n13800138000,张三\n".encode("gbk"))
    assert jobs.to_utf8(gbk) == "gb18030"
    assert gbk.read_text(encoding="utf-8") == "手机,姓名\n13800138000,张三\n"
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x81\x30" * 10 + b"\x80")
    with pytest.raises(ImportFileError, match="UTF-8"):
        jobs.to_utf8(binary)


def test_rejected_rows_skips_partial_lines(tmp_path: Path) -> None:
    keyring = Keyring([os.urandom(32)])
    dead = tmp_path / "dead.rejected.enc"
    writer = DeadLetterWriter(dead, keyring)
    writer.write({"line": 2, "field": "identifiers", "reason": "no identifier", "record": {"phone": "x"}})
    writer.close()
    with dead.open("ab") as fh:
        fh.write(b"AQID")  # a line cut short by a crash
    rows = jobs.rejected_rows(str(dead), keyring)
    assert rows == [{"line": 2, "field": "identifiers", "reason": "no identifier"}]
    assert jobs.rejected_rows(None, keyring) == []
    assert jobs.rejected_rows(str(tmp_path / "none"), keyring) == []
