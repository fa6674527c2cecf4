"""`siyu analytics funnel|paths` through the real app (Typer's runner, SIYU_* variables pointing at
the test database), on events ingested with the Python client: the ``--json`` payload, ``--csv``,
a steps file with property filters, exclusions, the channel breakdown with names from the system
of record, and clean failures naming the field. Expected numbers are worked out by hand below."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.cli.conftest import Cli, cli_env

from siyu.client import Siyu
from siyu.context import AppContext

V, C, O, X, R = "View Product", "Add to Cart", "Order Completed", "Page Viewed", "Refund"  # noqa: E741
TEA, COFFEE = {"category": "tea"}, {"category": "coffee"}
# u1 and u2 come in through the WeCom source; u3 and u4 have no first channel.
WECOM = [
    ("u1", V, datetime(2026, 1, 5, 10, 0), TEA),
    ("u1", C, datetime(2026, 1, 5, 10, 30), {}),
    ("u1", O, datetime(2026, 1, 5, 11, 0), {}),
    ("u2", V, datetime(2026, 1, 5, 10, 0), COFFEE),
    ("u2", C, datetime(2026, 1, 6, 10, 0), {}),
]
OTHER = [
    ("u3", V, datetime(2026, 1, 5, 12, 0), TEA),
    ("u3", R, datetime(2026, 1, 5, 12, 10), {}),
    ("u3", C, datetime(2026, 1, 5, 12, 20), {}),
    ("u3", O, datetime(2026, 1, 5, 12, 30), {}),
    ("u4", V, datetime(2026, 1, 6, 9, 0), TEA),
    ("u4", X, datetime(2026, 1, 6, 9, 5), {}),
    ("u4", C, datetime(2026, 1, 6, 9, 10), {}),
]
RANGE = ("--from", "2026-01-05", "--to", "2026-01-11")
STEPS = ("--step", V, "--step", C, "--step", O)


def calls(rows: list[tuple[str, str, datetime, dict[str, Any]]], prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "track",
            "event": name,
            "userId": user,
            "properties": props,
            "messageId": f"{prefix}{i}",
            "timestamp": ts.replace(tzinfo=UTC).isoformat(),
        }
        for i, (user, name, ts, props) in enumerate(rows)
    ]


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    client = Siyu(ctx)
    client.create_channel("wecom", "wecom", "WeCom 企业微信")
    source = client.create_source("wecom-app", channel="wecom")
    assert client.batch(calls(WECOM, "w"), write_key=source["write_key"]).rejected == []
    assert client.batch(calls(OTHER, "o")).rejected == []
    return Cli(cli_env(ctx.settings), ("analytics",))


def test_funnel_json_and_channel_breakdown(cli: Cli) -> None:
    out = cli.json("funnel", *STEPS, *RANGE)
    # u1: all three; u2: cart a day later; u3: all three; u4: view and cart
    assert [(s["step"], s["event"], s["count"]) for s in out["steps"]] == [(1, V, 4), (2, C, 4), (3, O, 2)]
    assert out["steps"][2]["conversion_from_previous"] == 0.5
    # times to the cart: u1 30 min, u2 1 day, u3 20 min, u4 10 min; to the order: 30 and 10 min
    assert out["steps"][1]["median_seconds_to_convert"] == 1500.0
    assert out["steps"][2]["average_seconds_to_convert"] == 1200.0
    assert (out["mode"], out["window_days"], out["breakdown"]) == ("sequential", 14, None)
    split = cli.json("funnel", *STEPS, *RANGE, "--breakdown", "first_channel")
    values = {v["value"]: [s["count"] for s in v["steps"]] for v in split["breakdown"]["values"]}
    assert values == {"WeCom 企业微信": [2, 2, 1], "(none)": [2, 2, 1]}
    assert split["breakdown"]["values"][0]["key"] == "wecom"


def test_funnel_steps_file_exclusions_strict_and_csv(cli: Cli, tmp_path: Path) -> None:
    steps = [
        {"event": V, "where": [{"property": "category", "op": "eq", "value": "tea"}]},
        {"event": C},
        {"event": O},
    ]
    doc = tmp_path / "steps.yaml"
    doc.write_text(yaml.safe_dump({"steps": steps, "window_days": 7}, allow_unicode=True), encoding="utf-8")
    out = cli.json("funnel", "--steps-file", str(doc), *RANGE, "--exclude", f"{R}:0:1")
    # tea views only (u2 drops out); u3 refunded between view and cart: u1 (3 steps), u4 (2)
    assert [s["count"] for s in out["steps"]] == [2, 2, 1]
    assert out["window_days"] == 7
    listed = tmp_path / "steps.json"
    listed.write_text(json.dumps(steps))
    assert [s["count"] for s in cli.json("funnel", "--steps-file", str(listed), *RANGE)["steps"]] == [3, 3, 2]
    # Strict: u1 in a row; u2's cart follows the view; u3 (refund) and u4 (page view) break after it.
    text = cli("funnel", *STEPS, *RANGE, "--mode", "strict", "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["step"], r["count"]) for r in rows] == [("1", "4"), ("2", "2"), ("3", "1")]
    assert list(rows[0])[:4] == ["step", "event", "label", "count"]
    assert "any 2 of 3" in cli("funnel", *STEPS, *RANGE, "--mode", "any-order").stdout


def test_funnel_failures_name_the_problem(cli: Cli, tmp_path: Path) -> None:
    assert "mode" in cli.fails("funnel", *STEPS, "--mode", "loose")
    assert "--step" in cli.fails("funnel", *RANGE)
    assert "exclusions[0].to_step" in cli.fails("funnel", *STEPS, "--exclude", f"{R}:0:5")
    assert "breakdown" in cli.fails("funnel", *STEPS, "--breakdown", "attribute:")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert "--steps-file" in cli.fails("funnel", "--steps-file", str(bad))
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"event": V}, {"event": C}]))
    assert "not both" in cli.fails("funnel", "--steps-file", str(good), "--step", V)


def test_paths(cli: Cli) -> None:
    out = cli.json("paths", "--event", V, "--steps", "2", "--limit", "4", *RANGE)
    # After each view, within 30-minute sessions: u1 V→C→O; u2's cart is a day later (no path);
    # u3 V→Refund→C; u4 V→Page Viewed→C. Six transitions, one each.
    assert out["total_edges"] == 6
    assert [(e["level"], e["source"], e["target"], e["count"]) for e in out["edges"]] == [
        (1, V, C, 1),
        (1, V, X, 1),
        (1, V, R, 1),
        (2, C, O, 1),
    ]
    assert (out["direction"], out["steps"], out["session_minutes"]) == ("after", 2, 30)
    text = cli("paths", "--event", O, "--direction", "before", "--steps", "1", *RANGE, "--csv").stdout
    # Into each order: from the cart (u1, u3)
    assert list(csv.DictReader(io.StringIO(text))) == [{"level": "1", "source": C, "target": O, "count": "2"}]
    assert "direction" in cli.fails("paths", "--direction", "sideways")
