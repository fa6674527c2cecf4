"""The contract `siyu analytics activity --from D --to D --json` counts days in the brand's time
zone: an order at 2026-03-02 00:30 Beijing time (16:30 UTC on 03-01) is activity on 03-02, unless
SIYU_TIMEZONE (or the zone stored in the console) says otherwise. The CSV names the zone."""

from __future__ import annotations

import csv
import io
import json

import pytest
from tests.cli.conftest import Cli, cli_env

from siyu.client import Siyu
from siyu.context import AppContext

DAYS = ("--from", "2026-03-01", "--to", "2026-03-02")


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    call = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "messageId": "late-night",
        "timestamp": "2026-03-01T16:30:00Z",
        "properties": {"amount": 35.04},
    }
    assert Siyu(ctx).batch([call]).rejected == []
    return Cli(cli_env(ctx.settings))


def dau(out: dict) -> dict[str, int]:
    return {d["day"]: d["dau"] for d in out["days"]}


def test_activity_counts_beijing_days_by_default(cli: Cli) -> None:
    out = cli.json("analytics", "activity", *DAYS)
    assert out["timezone"] == "Asia/Shanghai"
    assert dau(out) == {"2026-03-01": 0, "2026-03-02": 1}
    one = cli.json("analytics", "activity", "--from", "2026-03-02", "--to", "2026-03-02")
    assert dau(one) == {"2026-03-02": 1}


def test_the_environment_and_the_stored_zone_decide(cli: Cli, ctx: AppContext) -> None:
    utc = cli("analytics", "activity", *DAYS, "--json", SIYU_TIMEZONE="UTC")
    assert dau(json.loads(utc.stdout)) == {"2026-03-01": 1, "2026-03-02": 0}
    with ctx.db.session() as session:  # what the console's settings page stores
        ctx.set_timezone(session, "Europe/London")
    assert dau(cli.json("analytics", "activity", *DAYS)) == {"2026-03-01": 1, "2026-03-02": 0}
    # the environment wins over the stored zone
    pinned = cli("analytics", "activity", *DAYS, "--json", SIYU_TIMEZONE="Asia/Shanghai")
    assert dau(json.loads(pinned.stdout)) == {"2026-03-01": 0, "2026-03-02": 1}


def test_csv_days_are_local_and_the_header_names_the_zone(cli: Cli) -> None:
    text = cli("analytics", "activity", *DAYS, "--csv").stdout.lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "day (Asia/Shanghai)"
    assert [(r[0], r[1]) for r in rows[1:]] == [("2026-03-01", "0"), ("2026-03-02", "1")]


def test_the_table_is_a_rich_table_with_units(cli: Cli) -> None:
    text = cli("analytics", "activity", *DAYS).stdout
    assert "day (Asia/Shanghai)" in text and "┃" in text  # a rich table, the zone in the header
    assert "100.0%" in text  # stickiness of 03-02 (DAU 1 / MAU 1); 03-01 has none: "-"


def test_a_bad_zone_is_refused_naming_it(cli: Cli) -> None:
    assert "Mars/Olympus" in cli.fails("analytics", "activity", *DAYS, SIYU_TIMEZONE="Mars/Olympus")
