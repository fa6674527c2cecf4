"""`siyu retention show|set|run` and `siyu audit verify` through the real Typer app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from tests.cli.conftest import Cli, cli_env, squash

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import AuditEntry, Event


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    return Cli(cli_env(ctx.settings))


def test_show_set_and_run(cli: Cli, ctx: AppContext) -> None:
    assert cli.json("retention", "show")["policies"]["outbox_body_days"] == 180
    saved = cli.json(
        "retention", "set", "--events", "Page Viewed=30", "--events", "*=3650",
        "--inactive-contacts-years", "3", "--outbox-body-days", "off",
    )  # fmt: skip
    assert saved == {
        "events": [{"event": "Page Viewed", "days": 30}, {"event": "*", "days": 3650}],
        "inactive_contacts_years": 3,
        "outbox_body_days": None,
        "audit_years": None,
    }
    # options not given stay as they are
    assert cli.json("retention", "set", "--audit-years", "4")["events"] == saved["events"]
    client = Siyu(ctx)
    old = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    for i in range(3):
        client.track("Page Viewed", {"customer_no": "C1"}, timestamp=old, message_id=f"pv-{i}")
    client.track("Page Viewed", {"customer_no": "C1"}, message_id="pv-now")
    preview = cli.json("retention", "run", "--dry-run")
    assert preview["dry_run"] is True and preview["removed"]["events"] == {"Page Viewed": 3, "*": 0}
    run = cli.json("retention", "run")
    assert run["removed"]["events"] == {"Page Viewed": 3, "*": 0}
    assert run["removed"]["inactive_contacts"] == 0 and run["off"] == ["outbox_bodies"]
    with ctx.db.session() as s:
        assert s.scalars(select(Event.message_id)).all() == ["pv-now"]
    assert cli.json("retention", "run")["removed"]["events"] == {"Page Viewed": 0, "*": 0}
    table = squash(cli("retention", "show").stdout, " ")
    assert "Events: Page Viewed" in table and "30 days" in table and "3 years" in table
    zh = squash(cli("retention", "show", SIYU_LANG="zh").stdout, " ")
    assert "30天" in zh and "不删除" in zh and "上次执行完成于" in zh


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--events", "Page Viewed"], "--events #0"),
        (["--events", "a=1", "--events", "b=x"], "--events #1"),
        (["--outbox-body-days", "many"], "--outbox-body-days"),
        (["--events", "a=0"], "events[0].days"),
        (["--audit-years", "1000"], "audit_years"),
        (["--events", "a=1", "--events", "a=2"], "events"),
    ],
)
def test_bad_values_fail_cleanly_naming_where(cli: Cli, args: list[str], words: str) -> None:
    message = cli.fails("retention", "set", *args, code=2)
    assert words in squash(message, " ")
    assert cli.json("retention", "show")["policies"]["events"] == []


def test_audit_verify(cli: Cli, ctx: AppContext) -> None:
    cli("retention", "set", "--audit-years", "5")  # writes audit entries
    cli("retention", "set", "--audit-years", "6")
    result = cli.json("audit", "verify")
    assert result["ok"] is True and result["entries"] == 2 and result["broken"] is None
    assert "2 entries verified" in squash(cli("audit", "verify").stdout, " ")
    with ctx.db.session() as s:
        first = s.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).first()
    with ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET action = 'nothing' WHERE id = :id"), {"id": first})
    broken = cli.json("audit", "verify", code=1)
    assert broken["ok"] is False and broken["broken"]["id"] == first
    assert broken["broken"]["problem"] == "changed"
    assert f"#{first}" in cli("audit", "verify", code=1, SIYU_LANG="zh").stdout
