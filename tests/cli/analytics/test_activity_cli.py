"""`siyu analytics retention|activity|stickiness|lifecycle` through the real app (Typer's runner,
SIYU_* variables pointing at the test database), on events ingested with the Python client:
the exact ``--json`` payload shape of the CLI contract, ``--csv``, and clean failures naming the
field. Expected numbers are worked out by hand from the events below, whose times are wall
times of the brand's zone (Asia/Shanghai, the default)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from tests.cli.conftest import Cli, cli_env

from siyu.client import Siyu
from siyu.context import AppContext

# Weeks start on Monday: W0 = 2026-01-05, W1 = 01-12, W2 = 01-19.
EVENTS = [
    ("u1", "signup", datetime(2026, 1, 5, 9)),
    ("u1", "Order Completed", datetime(2026, 1, 6, 9)),
    ("u1", "Order Completed", datetime(2026, 1, 21, 9)),
    ("u2", "signup", datetime(2026, 1, 11, 23, 59, 59)),
    ("u2", "Order Completed", datetime(2026, 1, 12, 0, 0)),
    ("u3", "signup", datetime(2026, 1, 13, 9)),
    ("u3", "Order Completed", datetime(2026, 1, 14, 9)),  # twice at the same moment
    ("u3", "Order Completed", datetime(2026, 1, 14, 9)),
    ("u4", "signup", datetime(2026, 1, 1, 9)),  # first signup before the range
    ("u4", "signup", datetime(2026, 1, 7, 9)),
    ("u4", "Order Completed", datetime(2026, 1, 8, 9)),
]
RANGE = ("--from", "2026-01-05", "--to", "2026-01-25")


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    calls = [
        {
            "type": "track",
            "event": name,
            "userId": user,
            "messageId": f"m{i}",
            "timestamp": ts.replace(tzinfo=ZoneInfo("Asia/Shanghai")).isoformat(),
        }
        for i, (user, name, ts) in enumerate(EVENTS)
    ]
    assert Siyu(ctx).batch(calls).rejected == []
    return Cli(cli_env(ctx.settings))


def test_retention_json_contract(cli: Cli) -> None:
    args = ("--start-event", "signup", "--return-event", "Order Completed", "--period", "week", *RANGE)
    out = cli.json("analytics", "retention", *args, "--type", "first-time")
    # W0: u1, u2 (u4 signed up first before the range): k0 u1, k1 u2, k2 u1.  W1: u3 (k0).
    assert out["cohorts"] == [
        {"start": "2026-01-05", "size": 2, "values": [1, 1, 1]},
        {"start": "2026-01-12", "size": 1, "values": [1, 0]},
        {"start": "2026-01-19", "size": 0, "values": [0]},
    ]
    assert set(out) >= {"cohorts", "average"}
    assert out["average"][1] == {"period": 1, "rate": 1 / 3, "contacts": 1, "eligible": 3}
    recurring = cli.json("analytics", "retention", *args, "--type", "recurring")
    # W0 also holds u4 (its Jan 7 signup), who ordered in W0
    assert [c["values"] for c in recurring["cohorts"]] == [[2, 1, 1], [1, 0], [0]]
    assert [c["size"] for c in recurring["cohorts"]] == [3, 1, 0]
    after = cli.json("analytics", "retention", *args, "--mode", "on-or-after", "--periods", "2")
    assert [c["values"] for c in after["cohorts"]] == [[2, 2], [1, 0], [0]]


def test_retention_csv_and_errors(cli: Cli) -> None:
    text = cli(
        "analytics", "retention", "--start-event", "signup", "--period", "week", *RANGE, "--csv"
    ).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["cohort (Asia/Shanghai)", "size", "period", "contacts", "rate"]
    # signup → signup: period 0 is the whole cohort
    assert [(r["cohort (Asia/Shanghai)"], r["period"], r["contacts"]) for r in rows[:2]] == [
        ("2026-01-05", "0", "2"),
        ("2026-01-05", "1", "0"),
    ]
    assert "type" in cli.fails("analytics", "retention", "--start-event", "signup", "--type", "sometimes")
    assert "to" in cli.fails(
        "analytics", "retention", "--start-event", "signup", "--from", "2026-02-01", "--to", "2026-01-01"
    )
    assert "--start-where" in cli.fails(
        "analytics", "retention", "--start-event", "x", "--start-where", "{no"
    )


def test_activity_stickiness_lifecycle(cli: Cli) -> None:
    out = cli.json("analytics", "activity", "--from", "2026-01-12", "--to", "2026-01-13")
    # Jan 12: DAU u2; WAU (Jan 6-12) u1, u2, u4; MAU (Dec 14 - Jan 12) u1, u2, u4
    # Jan 13: DAU u3; WAU (Jan 7-13) u2, u3, u4; MAU (Dec 15 - Jan 13) all four
    assert [(d["day"], d["dau"], d["wau"], d["mau"]) for d in out["days"]] == [
        ("2026-01-12", 1, 3, 3),
        ("2026-01-13", 1, 3, 4),
    ]
    text = cli(
        "analytics", "activity", "--from", "2026-01-12", "--to", "2026-01-12", "--event", "signup", "--csv"
    )
    rows = list(csv.DictReader(io.StringIO(text.stdout)))
    # signups on Jan 6-12: u2 (Jan 11), u4 (Jan 7); in Dec 14 - Jan 12: also u1 (Jan 5), u4 (Jan 1)
    assert rows == [
        {"day (Asia/Shanghai)": "2026-01-12", "dau": "0", "wau": "2", "mau": "3", "stickiness": "0"}
    ]
    hist = cli.json(
        "analytics", "stickiness", "--from", "2026-01-05", "--to", "2026-01-25", "--interval", "week"
    )
    # active weeks: u1 W0, W2; u2 W0, W1; u3 W1; u4 W0 (its Jan 1 signup is before the range)
    assert [(h["intervals"], h["contacts"]) for h in hist["histogram"]] == [(1, 2), (2, 2), (3, 0)]
    life = cli.json("analytics", "lifecycle", "--period", "week", *RANGE, "--event", "Order Completed")
    # contacts are created at their first message: u1 W0, u2 W0, u3 W1, u4 W-1 (Jan 1).
    # W0: u1 new (first order in its creation week), u4 resurrecting.
    # W1: u3 new, u2 resurrecting (created W0, first order W1); u1 and u4 dormant.
    # W2: u1 resurrecting; u2 and u3 dormant.
    statuses = [
        (p["period"], p["new"], p["returning"], p["resurrecting"], p["dormant"]) for p in life["periods"]
    ]
    assert statuses == [
        ("2026-01-05", 1, 0, 1, 0),
        ("2026-01-12", 1, 0, 1, -2),
        ("2026-01-19", 0, 0, 1, -2),
    ]
