"""`siyu loyalty …`: the issue's scripted contract (balance / award / spend / verify as JSON, a
repeated external id changing nothing), programme and tier settings with clear errors."""

from __future__ import annotations

import pytest

from siyu.context import AppContext

from .conftest import Cli, cli_env

PHONE = "13800138000"


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    with ctx.db.session() as s:
        ctx.profiles(s).identify([ctx.parser.parse("phone", PHONE)])
    return Cli(cli_env(ctx.settings), ["loyalty"])


def test_award_spend_balance_verify_contract(cli: Cli) -> None:
    cli.json("programme", "set", "signup_points=10")
    card = cli.json("enrol", PHONE, "--source", "store")
    assert card["member"]["member_no"].startswith("M")
    first = cli.json("award", PHONE, "100", "--reason", "活动奖励", "--external-id", "camp-1")
    again = cli.json("award", PHONE, "100", "--reason", "活动奖励", "--external-id", "camp-1")
    assert again["entry"]["id"] == first["entry"]["id"]
    bal = cli.json("balance", PHONE)
    assert {k: bal[k] for k in ("active", "pending", "spent", "expired")} == {
        "active": 110,
        "pending": 0,
        "spent": 0,
        "expired": 0,
    }
    assert "tier" in bal
    cli.json("spend", PHONE, "30", "--external-id", "order-9")
    cli.json("spend", PHONE, "30", "--external-id", "order-9")
    assert cli.json("balance", PHONE)["spent"] == 30
    err = cli.fails("spend", PHONE, "1000", "--external-id", "too-much", code=2)
    assert "needs 1000 points, 80 available" in err
    rows = cli.json("ledger", PHONE)
    assert [r["kind"] for r in rows].count("award") == 2 and rows[0]["kind"] == "spend"
    report = cli.json("verify")
    assert report["ok"] is True and report["members"] == 1 and report["entries"] == 3


def test_programme_and_tiers_refuse_bad_values_naming_the_field(cli: Cli) -> None:
    assert "default_validity" in cli.fails("programme", "set", "default_validity=13X", code=2)
    assert "pending_days" in cli.fails("programme", "set", "pending_days=-1", code=2)
    assert (
        cli.json("programme", "set", "default_validity=12m", "allow_negative=true")["default_validity"]
        == "12M"
    )
    cli.json("tiers", "add", "base", "--name", "普通会员", "--threshold", "0")
    cli.json("tiers", "add", "gold", "--name", "金卡", "--threshold", "1000", "--multiplier", "2")
    assert "threshold" in cli.fails("tiers", "add", "mid", "--name", "中间", "--threshold", "10", code=2)
    assert [t["key"] for t in cli.json("tiers", "list")] == ["base", "gold"]
    assert cli.json("tiers", "update", "gold", "--threshold", "800")["threshold"] == "800"
    assert cli.json("jobs", "run")["release"] == 0
    assert "--only" in cli.fails("jobs", "run", "--only", "nope", code=2)
