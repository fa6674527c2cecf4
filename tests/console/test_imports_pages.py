"""Imports pages over real HTTP: upload a CSV with bad rows, follow its progress through the
status endpoint to the end, and see the counts and the rejected rows (line and field)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import ConsoleSession, RunningServer

from siyu.console import pages_imports

#: The header is line 1. Lines 5 and 7 are rejected (no identifier; only a junk phone); lines 3
#: and 6 are imported without their bad value (a junk phone, a bad email), which is noted.
CONTACTS_CSV = (
    "phone,email,name,customer_no\n"
    "13800138001,a1@example.com,王一,C101\n"
    "12345,a2@example.com,坏号码,C102\n"
    "13800138003,a3@example.com,王三,C103\n"
    ",,无标识,\n"
    "13800138005,not-an-email,王五,C105\n"
    "12345,,只有坏号码,\n"
)
BAD = {5: "identifiers", 7: "identifiers.phone"}
NOTED = {3: "phone", 6: "email"}


def upload(browser: ConsoleSession, name: str, content: bytes, **form: str) -> Any:
    return browser.post(
        "/console/imports",
        data={"kind": "contacts", "csrf_token": browser.csrf, **form},
        files={"file": (name, content, "text/csv")},
        follow_redirects=False,
    )


def wait_done(browser: ConsoleSession, job_id: int, timeout: float = 60) -> list[dict[str, Any]]:
    """Poll the status endpoint as the page does; every answer, in order."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        resp = browser.get(f"/console/imports/{job_id}/status")
        assert resp.status_code == 200, resp.text[:500]
        seen.append(resp.json())
        if seen[-1]["done"]:
            return seen
        assert time.monotonic() < deadline, seen[-1]
        time.sleep(0.05)


def job_of(resp: Any) -> int:
    assert resp.status_code == 303, resp.text[:1000]
    match = re.fullmatch(r"/console/imports/(\d+)(\?.*)?", resp.headers["location"])
    assert match, resp.headers["location"]
    return int(match.group(1))


def count(html: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}">(\d+)<', html)
    assert match, element_id
    return int(match.group(1))


def test_csv_import_reports_bad_rows_and_keeps_good_ones(
    server: RunningServer, console_as: Callable[[str], ConsoleSession]
) -> None:
    operator = console_as("operator")
    form = operator.get("/console/imports").text
    assert 'id="import-form"' in form and 'name="file"' in form

    job_id = job_of(upload(operator, "客户名单.csv", CONTACTS_CSV.encode()))
    final = wait_done(operator, job_id)[-1]
    assert final["status"] == "done" and final["percent"] == 100
    assert (final["lines"], final["accepted"], final["rejected"]) == (6, 4, 2)
    assert final["outcome"] == "partial"
    assert {e["line"]: e["field"] for e in final["errors"]} == BAD
    assert all(e["reason"] for e in final["errors"])
    assert {n["line"]: n["field"] for n in final["notes"]} == NOTED
    assert {n["kind"] for n in final["notes"]} == {"invalid_value"} and final["notes_count"] == 2

    page = operator.get(f"/console/imports/{job_id}").text
    assert count(page, "import-accepted") == 4 and count(page, "import-rejected") == 2
    assert 'data-status="done"' in page and 'id="import-progress"' in page
    rows = re.findall(r'<tr class="import-error" data-line="(\d+)" data-field="([^"]+)">', page)
    assert {int(line): field for line, field in rows} == BAD
    noted = re.findall(r'<tr class="import-note" data-line="(\d+)" data-kind="invalid_value">', page)
    assert sorted(int(n) for n in noted) == sorted(NOTED)
    assert "Not valid, left out" in page and 'class="flash warn"' in page
    assert "/status" not in page  # finished: the page no longer polls

    # the valid rows are kept, with their traits; a bad phone costs the phone, not the row
    assert server.client.contact("13800138001")["traits"]["name"] == "王一"
    assert server.client.contact("customer_no:C103")["traits"]["name"] == "王三"
    kept = server.client.contact("customer_no:C102")
    assert kept["traits"]["name"] == "坏号码"
    assert sorted(i["type"] for i in kept["identifiers"]) == ["customer_no", "email"]

    listing = operator.get("/console/imports").text
    assert re.search(rf'<tr data-job-id="{job_id}">.*?客户名单\.csv', listing, re.S)

    # importing the same file again: the good rows are duplicates, nothing new
    again = wait_done(operator, job_of(upload(operator, "客户名单.csv", CONTACTS_CSV.encode())))[-1]
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 4, 2)


def test_status_reports_progress_until_done(
    server: RunningServer, console_as: Callable[[str], ConsoleSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import is held after its first committed batch, so the test sees it mid-way for sure."""
    monkeypatch.setattr(pages_imports, "BATCH_SIZE", 25)
    gate = threading.Event()
    original = server.client.import_file

    def held(*args: Any, progress: Any = None, **kw: Any) -> Any:
        def hold(nbytes: int, lines: int) -> None:
            progress(nbytes, lines)
            gate.wait(30)  # the first batch's progress is reported; wait for the test

        return original(*args, progress=hold, **kw)

    monkeypatch.setattr(server.client, "import_file", held)
    operator = console_as("operator")
    rows = 2000
    lines = ["customer_no,event,amount"] + [f"E{i % 40},Order Completed,{i}" for i in range(rows)]
    job_id = job_of(upload(operator, "orders.csv", ("\n".join(lines) + "\n").encode(), kind="events"))
    try:
        deadline = time.monotonic() + 30
        while (mid := operator.get(f"/console/imports/{job_id}/status").json())["lines"] == 0:
            assert time.monotonic() < deadline, mid
            time.sleep(0.02)
        assert (mid["status"], mid["done"], mid["lines"], mid["accepted"]) == ("running", False, 25, 25)
        assert 0 < mid["percent"] < 100, mid
        page = operator.get(f"/console/imports/{job_id}").text
        assert 'data-status="running"' in page and "/status" in page  # the page polls
        assert re.search(r'<progress id="import-progress" max="100"\s+value="[\d.]+"', page)
    finally:
        gate.set()

    seen = wait_done(operator, job_id)
    percents = [s["percent"] for s in [mid, *seen]]
    assert percents == sorted(percents), percents  # never goes backwards
    last = seen[-1]
    assert (last["status"], last["percent"], last["lines"], last["accepted"], last["rejected"]) == (
        "done",
        100,
        rows,
        rows,
        0,
    )
    assert server.client.stats()["events"] == rows


def test_gbk_csv_is_converted(server: RunningServer, console_as: Callable[[str], ConsoleSession]) -> None:
    operator = console_as("operator")
    content = "手机,姓名\n13800138011,赵六\n".encode("gbk")
    resp = upload(operator, "excel.csv", content, mapping="手机=phone\n姓名=name")
    job_id = job_of(resp)
    assert resp.headers["location"].endswith("?converted=1")
    assert wait_done(operator, job_id)[-1]["accepted"] == 1
    assert server.client.contact("13800138011")["traits"]["name"] == "赵六"


def test_bad_uploads_are_explained(
    server: RunningServer, console_as: Callable[[str], ConsoleSession]
) -> None:
    operator = console_as("operator")
    no_file = operator.post_form("/console/imports", {"kind": "contacts"})
    assert no_file.status_code == 422 and 'class="flash err"' in no_file.text

    unknown = upload(operator, "notes.txt", b"phone\n13800138000\n")
    assert unknown.status_code == 422 and "notes.txt" in unknown.text

    bad_mapping = upload(operator, "a.csv", b"phone\n13800138000\n", mapping="just-a-word")
    assert bad_mapping.status_code == 422 and "just-a-word" in bad_mapping.text
    assert ">just-a-word</textarea>" in bad_mapping.text  # what was typed is kept

    bad_kind = upload(operator, "a.csv", b"phone\n13800138000\n", kind="orders")
    assert bad_kind.status_code == 422
    assert operator.get("/console/imports/424242").status_code == 404


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_imports_need_the_import_permission(
    server: RunningServer, console_as: Callable[[str], ConsoleSession], role: str
) -> None:
    browser = console_as(role)
    assert browser.get("/console/imports").status_code == 403
    assert upload(browser, "a.csv", CONTACTS_CSV.encode()).status_code == 403
    assert browser.get("/console/imports/1/status").status_code == 403


def test_upload_without_csrf_is_refused(
    server: RunningServer, console_as: Callable[[str], ConsoleSession]
) -> None:
    operator = console_as("operator")
    resp = operator.post(
        "/console/imports", data={"kind": "contacts"}, files={"file": ("a.csv", b"phone\n", "text/csv")}
    )
    assert resp.status_code == 403


def test_preview_shows_the_mapping_and_imports_what_was_picked(
    server: RunningServer, console_as: Callable[[str], ConsoleSession]
) -> None:
    operator = console_as("operator")
    content = "手机,姓名,生日,备用\n13800138021,孙一,1990/5/1,x\n123,无号,2000-02-30,y\n".encode("gbk")
    resp = upload(operator, "名单.csv", content, preview="1")
    assert resp.status_code == 200, resp.text[:500]
    page = resp.text
    mapped = dict(re.findall(r'<tr class="import-column" data-column="([^"]+)" data-field="([^"]+)">', page))
    assert mapped == {"手机": "phone", "姓名": "name", "生日": "birthday", "备用": "备用"}
    assert 'data-outcome="partial"' in page and 'class="import-error" data-line="3"' in page
    assert server.client.stats()["contacts"] == 0  # the preview wrote nothing
    token = re.search(r'name="token" value="([0-9a-f]{32})"', page)
    assert token
    form = {"csrf_token": operator.csrf, "token": token.group(1), "kind": "contacts", "format": ""}
    for i, column in enumerate(["手机", "姓名", "生日", "备用"], start=1):
        form[f"column_{i}"] = column
        form[f"field_{i}"] = {"备用": "-", "姓名": "full_name"}.get(column, mapped[column])
    started = operator.post("/console/imports/start", data=form, follow_redirects=False)
    final = wait_done(operator, job_of(started))[-1]
    assert (final["accepted"], final["rejected"]) == (1, 1)
    assert server.client.contact("13800138021")["traits"] == {"full_name": "孙一", "birthday": "1990-05-01"}
    again = operator.post("/console/imports/start", data=form, follow_redirects=False)
    assert again.status_code == 422  # the staged file was imported and removed


def test_an_import_that_rejected_every_row_is_shown_as_failed(
    server: RunningServer, console_as: Callable[[str], ConsoleSession]
) -> None:
    operator = console_as("operator")
    job_id = job_of(upload(operator, "bad.csv", b"phone,name\n123,a\n456,b\n"))
    final = wait_done(operator, job_id)[-1]
    assert (final["status"], final["outcome"], final["accepted"]) == ("done", "failed", 0)
    page = operator.get(f"/console/imports/{job_id}").text
    assert 'data-outcome="failed"' in page and 'class="flash err"' in page
    assert 'class="flash ok"' not in page and "Import finished" not in page
