"""`siyu events list|show|set|learn` through the real Typer app, with ``--json``."""

from __future__ import annotations

import pytest
from tests.cli.conftest import Cli, cli_env, squash

from siyu.client import Siyu
from siyu.context import AppContext


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    return Cli(cli_env(ctx.settings))


def test_learn_list_show_and_set(cli: Cli, ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.track("Order Completed", {"customer_no": "C1"}, {"amount": 35.04, "items": 1}, message_id="o1")
    client.track("领券", {"customer_no": "C1"}, {"coupon": "SPRING"}, message_id="c1")
    client.feed_warehouse()
    assert cli.json("events", "list") == []
    assert cli.json("events", "learn") == {"events": 2, "added": 2, "new_properties": 3}
    listed = {row["name"]: row for row in cli.json("events", "list")}
    assert set(listed) == {"Order Completed", "领券"}
    assert listed["Order Completed"]["display_zh"] == "下单" and listed["Order Completed"]["volume"] == 1
    made = cli.json(
        "events", "set", "领券", "--zh", "领取优惠券", "--en", "Coupon claimed",
        "--summary-zh", "[{coupon}]", "--property", "coupon=券码/Coupon code:text",
    )  # fmt: skip
    assert (made["display_zh"], made["display_en"], made["summary_zh"]) == (
        "领取优惠券",
        "Coupon claimed",
        "[{coupon}]",
    )
    assert made["properties"]["coupon"] == {"zh": "券码", "en": "Coupon code", "kind": "text"}
    assert cli.json("events", "show", "领券") == {**made, "volume": 1, "updated_by": "cli"}
    shown = squash(cli("events", "show", "领券").stdout, " ")
    assert "领券: 领取优惠券 / Coupon claimed" in shown and "coupon: 券码 / Coupon code (text)" in shown
    table = cli("events", "list").stdout
    assert "领取优惠券" in table and "Order Completed" in table


@pytest.mark.parametrize(
    ("args", "en", "zh"),
    [
        (["--summary-zh", "{amount"], "summary_zh", "字段 summary_zh：摘要里的 { } 或 [ ] 不成对"),
        (
            ["--property", "amount=实付:euro"],
            "properties.amount.kind",
            "字段 properties.amount.kind：应为以下之一",
        ),
        (["--property", "amount"], "--property 'amount'", "--property 'amount'"),
    ],
)
def test_bad_edits_fail_cleanly_naming_the_field(cli: Cli, args: list[str], en: str, zh: str) -> None:
    assert en in squash(cli.fails("events", "set", "Order Completed", *args), " ")
    assert zh in squash(cli.fails("events", "set", "Order Completed", *args, SIYU_LANG="zh"), " ")
    assert cli.json("events", "list") == []


def test_unknown_event_fails_cleanly(cli: Cli) -> None:
    assert "no event 'Bought'" in cli.fails("events", "show", "Bought")
    assert cli.json("events", "show", "Order Completed")["display_en"] == "Ordered"  # a default
