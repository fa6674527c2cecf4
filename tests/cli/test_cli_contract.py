"""The `siyu` command line as scripts and operators use it: ``--json`` output, exit codes,
masked PII, clear error messages, and Chinese output under ``SIYU_LANG=zh``."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

import siyu.store
from siyu.cli.main import app
from siyu.store.models import AuditEntry, Event, Source

KEY = base64.b64encode(b"c" * 32).decode()

EVENTS = [
    {
        "type": "identify",
        "userId": "C1",
        "traits": {"phone": "13800138000", "name": "张三"},
        "messageId": "e1",
        "timestamp": "2024-05-01T08:00:00Z",
    },
    {"type": "track", "event": "Paid", "userId": "C1", "messageId": "e2"},
    {"type": "track", "userId": "C1", "messageId": "e3"},  # line 3: no event name
    {"type": "page", "name": "Home", "anonymousId": "dev-1", "messageId": "e4"},
    {
        "type": "track",
        "event": "Paid",
        "userId": "C2",
        "messageId": "e5",
        "timestamp": "[object Object]",
    },  # line 5: a JavaScript bug's timestamp
    {"type": "track", "event": "Paid", "userId": "C2", "messageId": "e6"},
    {"type": "track", "event": "Refund", "userId": "C2", "messageId": "e7"},
]
GOOD, BAD_LINES = 5, [(3, "event"), (5, "timestamp")]


def flat(text: str) -> str:
    """Rich wraps long lines at the console width; compare without any whitespace."""
    return "".join(text.split())


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SIYU_DATA_DIR": str(tmp_path / "cli-data"),
        "SIYU_SECRET_KEY": KEY,
        "SIYU_DATABASE_URL": db_url,
        "SIYU_LANG": "en",
        "LANG": "C.UTF-8",
        "LC_ALL": "",
    }


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True, **env: str) -> Any:
        result = self.runner.invoke(app, list(args), env={**self.env, **env})
        if ok:
            assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def json(self, *args: str, **env: str) -> Any:
        result = self(*args, "--json", **env)
        return json.loads(result.stdout)  # stdout alone must be exactly one JSON document


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    return Cli(env)


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in EVENTS))
    return path


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


# --- db -------------------------------------------------------------------------------------------
def _newest_migration() -> str:
    """The head of the migration files (read from their names, not from Alembic, so the test
    does not share the code it checks)."""
    versions = Path(siyu.store.__file__).parent / "migrations" / "versions"
    return max(p.stem for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))


def test_db_upgrade(cli: Cli, engine: Engine) -> None:
    head = _newest_migration()
    assert cli.json("db", "upgrade") == {"revision": head}
    tables = set(inspect(engine).get_table_names())
    assert {
        "contacts",
        "identities",
        "events",
        "sources",
        "import_jobs",
        "contact_tags",
        "segments",
        "channel_spend",
        "contact_scores",
        "users",
        "user_sessions",
        "api_keys",
        "login_failures",
    } <= tables
    again = cli("db", "upgrade")  # idempotent
    assert head in again.stdout and "latest schema" in again.stdout


# --- import ---------------------------------------------------------------------------------------
def test_import_events_json(cli: Cli, events_file: Path, engine: Engine) -> None:
    report = cli.json("import", "events", str(events_file))
    assert (report["lines"], report["accepted"], report["duplicates"], report["rejected"]) == (7, GOOD, 0, 2)
    assert [(e["line"], e["field"]) for e in report["errors"]] == BAD_LINES
    assert report["dead_letter"] and Path(report["dead_letter"]).is_file()
    assert count(engine, Event) == GOOD
    again = cli.json("import", "events", str(events_file))
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, GOOD, 2)
    assert count(engine, Event) == GOOD


def test_import_contacts_json_with_mapping(cli: Cli, tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(
        "手机,邮箱,name,city,备注\n13800138000,zhang@example.com,张三,上海,VIP\n13900139000,,李四,北京,\n"
    )
    report = cli.json(
        "import",
        "contacts",
        str(path),
        "--map",
        "手机=phone",
        "--map",
        "邮箱=email",
        "--map",
        "备注=-",
    )
    assert (report["lines"], report["accepted"], report["duplicates"], report["rejected"]) == (2, 2, 0, 0)
    assert report["contacts_created"] == 2
    shown = cli("contacts", "show", "13800138000", "--json")
    data = json.loads(shown.stdout)
    assert sorted((i["type"], i["value"]) for i in data["identifiers"]) == [
        ("email", "z***@example.com"),
        ("phone", "138****8000"),
    ]
    assert data["traits"] == {"name": "张三", "city": "上海"}
    assert "13800138000" not in shown.output and "zhang@example.com" not in shown.output


def test_contacts_show_masks_and_reveal_is_audited(cli: Cli, events_file: Path, engine: Engine) -> None:
    cli.json("import", "events", str(events_file))
    data = cli.json("contacts", "show", "13800138000")
    values = {i["type"]: i["value"] for i in data["identifiers"]}
    assert values == {"customer_no": "C1", "phone": "138****8000"}
    assert data["event_count"] == 2  # e1 and e2; e3 was rejected
    table = cli("contacts", "show", "+86 138 0013 8000")
    assert "138****8000" in table.stdout
    assert "13800138000" not in table.output
    with engine.connect() as conn:
        reveals_before = conn.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "pii.revealed")
        ).scalar_one()
    revealed = cli.json("contacts", "show", "13800138000", "--reveal")
    assert {i["type"]: i["value"] for i in revealed["identifiers"]}["phone"] == "+8613800138000"
    with engine.connect() as conn:
        reveals_after = conn.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "pii.revealed")
        ).scalar_one()
    assert (reveals_before, reveals_after) == (0, 1)


def test_sources_create_and_attribution(cli: Cli, events_file: Path, engine: Engine) -> None:
    src = cli.json("sources", "create", "crm-export")
    assert src["name"] == "crm-export" and len(src["write_key"]) >= 20
    with engine.connect() as conn:
        stored = conn.execute(select(Source.id, Source.write_key)).one()
    assert tuple(stored) == (src["id"], src["write_key"])
    dup = cli("sources", "create", "crm-export", ok=False)
    assert dup.exit_code != 0
    assert "alreadyexists" in flat(dup.stderr)
    cli.json("import", "events", str(events_file), "--write-key", src["write_key"])
    with engine.connect() as conn:
        by_source = conn.execute(select(Event.source_id, func.count()).group_by(Event.source_id)).all()
    assert [tuple(r) for r in by_source] == [(src["id"], GOOD)]


def test_stats_json(cli: Cli, events_file: Path) -> None:
    empty = cli.json("stats")
    assert (empty["contacts"], empty["events"]) == (0, 0)
    cli.json("import", "events", str(events_file))
    stats = cli.json("stats")
    # C1 (customer_no + phone), dev-1, C2: three contacts; five stored events
    assert (stats["contacts"], stats["events"], stats["identities"]) == (3, GOOD, 4)
    assert stats["import_jobs"] == 1


# --- errors ---------------------------------------------------------------------------------------
def test_unknown_contact_exits_non_zero_with_a_message(cli: Cli) -> None:
    res = cli("contacts", "show", "13900139000", ok=False)
    assert res.exit_code != 0
    assert isinstance(res.exception, SystemExit)
    assert "notfound" in flat(res.stderr).lower()
    assert "13900139000" in flat(res.stderr)
    assert res.stdout == ""


@pytest.mark.parametrize("query", ["foo@bar", "hello"])
def test_unreadable_contact_query_is_a_clear_error(cli: Cli, query: str) -> None:
    res = cli("contacts", "show", query, ok=False)
    assert res.exit_code != 0
    assert isinstance(res.exception, SystemExit), repr(res.exception)  # no traceback
    assert query in flat(res.stderr)


def test_bad_files_exit_non_zero(cli: Cli, tmp_path: Path) -> None:
    missing = cli("import", "events", str(tmp_path / "nope.jsonl"), "--json", ok=False)
    assert missing.exit_code == 2
    assert "nosuchfile" in flat(missing.stderr).lower()
    assert "nope.jsonl" in flat(missing.stderr)
    assert missing.stdout == ""
    (tmp_path / "events.txt").write_text('{"type": "track"}\n')
    unknown = cli("import", "events", str(tmp_path / "events.txt"), ok=False)
    assert unknown.exit_code == 2
    assert "--format" in flat(unknown.stderr)
    bad_map = cli("import", "events", str(tmp_path / "events.txt"), "--map", "oops", ok=False)
    assert bad_map.exit_code == 2
    assert "COLUMN=FIELD" in flat(bad_map.stderr)


def test_error_message_keeps_square_brackets_in_file_names(cli: Cli, tmp_path: Path) -> None:
    """Exports are often named like ``contacts [final].csv``; the message must name the file."""
    name = "contacts [final].txt"
    (tmp_path / name).write_text("phone\n13800138000\n")
    res = cli("import", "contacts", str(tmp_path / name), ok=False)
    assert res.exit_code == 2
    assert flat(name) in flat(res.stderr)


# --- language -------------------------------------------------------------------------------------
def test_import_output_in_english(cli: Cli, events_file: Path) -> None:
    res = cli("import", "events", str(events_file))
    assert flat("5 accepted, 0 duplicates, 2 rejected (7 lines).") in flat(res.stdout)
    err = flat(res.stderr)
    assert flat("line 3, event:") in err and flat("line 5, timestamp:") in err
    assert flat("Rejected records were written to") in err


def test_import_output_in_chinese(cli: Cli, events_file: Path) -> None:
    res = cli("import", "events", str(events_file), SIYU_LANG="zh")
    assert flat("接收 5 条，重复 0 条，拒绝 2 条（共 7 行）。") in flat(res.stdout)
    err = flat(res.stderr)
    assert "第3行，event：" in err and "第5行，timestamp：" in err
    assert "被拒绝的记录已写入" in err
    missing = cli("contacts", "show", "13900139000", ok=False, SIYU_LANG="zh")
    assert "错误：未找到：" in flat(missing.stderr)


def test_rejected_reason_is_printed_verbatim(cli: Cli, events_file: Path) -> None:
    """The reason quotes the bad value; text in brackets must not be eaten as console markup."""
    res = cli("import", "events", str(events_file))
    assert "[objectObject]" in flat(res.stderr)


def test_channels_and_entry_codes_in_both_languages(cli: Cli) -> None:
    res = cli("channels", "create", "wecom-main", "--kind", "wecom", "--name", "导购企微")
    assert flat("Channel wecom-main (wecom) created.") in flat(res.stdout)
    res = cli("channels", "create", "store-sh", "--kind", "store", SIYU_LANG="zh")
    assert flat("已创建渠道 store-sh（store）。") in flat(res.stdout)
    res = cli("channels", "entry-code", "wecom-main", "--state", "spring-poster", "--name", "春季海报")
    assert flat("Entry code spring-poster created.") in flat(res.stdout)
    bad = cli("channels", "create", "x", "--kind", "fax", ok=False)
    assert bad.exit_code != 0 and "fax" in bad.stderr
