"""`siyu orders …` and `siyu orders subscriptions …`: JSON on stdout for scripts, errors naming
the field, a table otherwise."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_cli_contract import Cli, cli, env  # noqa: F401  (fixtures)


def test_orders_commands(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_id,phone,source,total,ordered_at,product_id,price,quantity\n"
        "A1,13800138000,taobao,100,2026-06-01 10:00,p,50,2\n"
        "A2,13800138000,taobao,x,2026-06-01 10:00,,,\n",
        encoding="utf-8",
    )
    out = cli.json("orders", "import", str(path))
    assert (out["booked"], out["errors"]) == (
        1,
        [{"row": 3, "field": "total", "message": "not a number: 'x'"}],
    )
    listed = cli.json("orders", "list", "--source", "taobao")
    assert [o["order_id"] for o in listed["orders"]] == ["A1"]
    assert cli.json("orders", "show", "taobao", "A1")["products"][0]["quantity"] == 2
    refund = cli.json("orders", "refund", "taobao", "A1", "--amount", "30", "--refund-id", "r1")
    assert refund["order"]["status"] == "partially_refunded"
    again = cli.json("orders", "refund", "taobao", "A1", "--amount", "30", "--refund-id", "r1")
    assert again["refunded"] is False
    bad = cli("orders", "refund", "taobao", "A1", "--amount", "500", ok=False)
    assert bad.exit_code == 1 and "amount" in bad.output
    summary = cli.json("orders", "summary", "13800138000")
    assert (summary["spend"], summary["orders"]) == ("70.00", 1)
    report = cli.json("orders", "report", "--since", "2026-06-01", "--until", "2026-06-30")
    assert report["total"]["gmv"] == "100.00"
    csv_out = cli("orders", "report", "--since", "2026-06-01", "--until", "2026-06-30", "--csv").stdout
    assert csv_out.splitlines()[1].startswith("total,,1,100.00,70.00")
    assert cli.json("orders", "problems")["total"] == 0
    assert "A1" in cli("orders", "list").stdout


def test_subscription_commands(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "orders.csv"
    path.write_text("order_id,phone,total\nB1,13800138000,1\n", encoding="utf-8")
    cli.json("orders", "import", str(path))  # the customer exists now
    plan = cli.json(
        "orders",
        "subscriptions",
        "create-plan",
        "milk",
        "--name",
        "鲜奶",
        "--price",
        "30",
        "--interval-days",
        "7",
    )
    assert plan["price"] == "30.00"
    bad = cli(
        "orders",
        "subscriptions",
        "create-plan",
        "tea",
        "--name",
        "茶",
        "--price",
        "-1",
        "--interval-days",
        "7",
        ok=False,
    )
    assert bad.exit_code == 1 and "price" in bad.output
    sub = cli.json("orders", "subscriptions", "subscribe", "13800138000", "milk", "--external-id", "e1")
    assert (
        cli.json("orders", "subscriptions", "subscribe", "13800138000", "milk", "--external-id", "e1")["id"]
        == sub["id"]
    )
    assert cli.json("orders", "subscriptions", "renew")["renewed"] == 1
    assert cli.json("orders", "subscriptions", "pause", str(sub["id"]))["status"] == "paused"
    assert cli.json("orders", "subscriptions", "resume", str(sub["id"]))["status"] == "active"
    assert cli.json("orders", "subscriptions", "fail", str(sub["id"]), "--reason", "card")["failures"] == 1
    assert (
        cli.json("orders", "subscriptions", "cancel", str(sub["id"]), "--reason", "搬家")["status"]
        == "cancelled"
    )
    assert cli.json("orders", "subscriptions", "show", str(sub["id"]))["cancel_reason"] == "搬家"
    assert [x["id"] for x in cli.json("orders", "subscriptions", "list", "--status", "cancelled")] == [
        sub["id"]
    ]
    assert cli.json("orders", "subscriptions", "plans")[0]["subscriptions"]["cancelled"] == 1
    assert cli("orders", "subscriptions", "pause", str(sub["id"]), ok=False).exit_code == 1
    assert cli.json("orders", "list")["orders"][0]["order_id"] == f"{sub['id']}-1"
