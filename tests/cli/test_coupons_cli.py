"""`siyu coupons …` through the real Typer app: the contract's `redeem CODE --order-id ID --json`
refuses a second redemption of a single-use code with a reason."""

from __future__ import annotations

import pytest
from tests.cli.conftest import Cli, cli_env

from siyu.client import Siyu
from siyu.context import AppContext


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    return Cli(cli_env(ctx.settings), prefix=["coupons"])


def test_campaign_issue_redeem_and_refuse_a_second_order(cli: Cli, ctx: AppContext, tmp_path) -> None:
    made = cli.json(
        "templates", "add", "summer", "--name", "夏季满减", "--kind", "threshold", "--amount", "30",
        "--min-order", "199", "--valid-until", "2099-06-30", "--channel", "youzan", "--per-customer", "1",
    )  # fmt: skip
    assert made["kind"] == "threshold" and made["min_order"] == "199.00"
    assert made["valid_until"].startswith("2099-06-30T16:00:00")  # the whole 30th, Beijing time
    Siyu(ctx).identify({"customer_no": "C1"}, {}, message_id="id-1")
    issued = cli.json("issue", "summer", "customer_no:C1", "--external-id", "manual-1")
    again = cli.json("issue", "summer", "customer_no:C1", "--external-id", "manual-1")
    assert issued["issued"] and issued["coupon"]["code"] == again["coupon"]["code"]
    code = issued["coupon"]["code"]
    assert cli.json("held", "customer_no:C1")[0]["code"] == code
    low = cli.json("validate", code, "--order-id", "A1", "--source", "youzan", "--amount", "100", code=1)
    assert low == {"ok": False, "reason": "min_order", "discount": None, "code": code}
    first = cli.json("redeem", code, "--order-id", "A1", "--source", "youzan", "--amount", "250")
    assert first == {"ok": True, "reason": None, "discount": "30.00", "code": code}
    assert cli.json("redeem", code, "--order-id", "A1", "--source", "youzan", "--amount", "250") == first
    second = cli.json("redeem", code, "--order-id", "A2", "--source", "youzan", "--amount", "250", code=1)
    assert second["ok"] is False and second["reason"] == "already_redeemed"
    assert cli.json("held", "customer_no:C1") == []
    funnel = cli.json("funnel", "summer")
    assert (funnel["issued"], funnel["redeemed"], funnel["discount"]) == (1, 1, "30.00")
    assert cli.json("abuse") == []
    assert cli.json("expire") == {"expired": 0}


def test_redeem_without_amount_takes_the_face_value(cli: Cli, ctx: AppContext) -> None:
    cli.json(
        "templates", "add", "c", "--name", "券", "--kind", "fixed", "--amount", "10", "--valid-days", "7"
    )
    Siyu(ctx).identify({"customer_no": "C9"}, {}, message_id="id-9")
    code = cli.json("issue", "c", "customer_no:C9")["coupon"]["code"]
    assert cli.json("redeem", code, "--order-id", "X1")["discount"] == "10.00"
    assert cli.json("redeem", code, "--order-id", "X2", code=1)["reason"] == "already_redeemed"


def test_codes_generate_import_and_template_changes(cli: Cli, tmp_path) -> None:
    cli.json(
        "templates",
        "add",
        "vip",
        "--name",
        "VIP",
        "--kind",
        "percent",
        "--amount",
        "10",
        "--valid-days",
        "30",
    )
    out = tmp_path / "codes.csv"
    made = cli.json("generate", "vip", "25", "--length", "8", "--output", str(out))
    assert made["count"] == 25 and len(out.read_text().split()) == 26
    src = tmp_path / "in.csv"
    src.write_text("code\nABCD-1\nABCD-1\n!!\n", encoding="utf-8")
    report = cli.json("import-codes", "vip", str(src))
    assert report["added"] == 1 and [e["reason"] for e in report["errors"]] == ["duplicate", "invalid"]
    assert cli.json("templates", "pause", "vip")["status"] == "paused"
    assert (
        cli.json("templates", "update", "vip", "--max-discount", "50", "--channel", "-")["max_discount"]
        == "50.00"
    )
    assert [t["key"] for t in cli.json("templates", "list", "--status", "paused")] == ["vip"]


def test_bad_input_is_refused_cleanly(cli: Cli, ctx: AppContext) -> None:
    Siyu(ctx).identify({"customer_no": "C1"}, {}, message_id="id-1")
    assert "amount" in cli.fails("templates", "add", "x", "--name", "n", "--kind", "fixed", "--amount", "-3",
                                 "--valid-days", "3", code=2)  # fmt: skip
    bad_date = [
        "templates",
        "add",
        "x",
        "--name",
        "n",
        "--kind",
        "fixed",
        "--amount",
        "3",
        "--valid-until",
        "soon",
    ]
    assert "valid-until" in cli.fails(*bad_date, code=2)
    assert "nope" in cli.fails("issue", "nope", "customer_no:C1", code=2)
    assert "C404" in cli.fails("held", "customer_no:C404")
