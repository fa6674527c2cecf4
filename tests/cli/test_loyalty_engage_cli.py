"""`siyu checkins | tasks | catalogue | birthdays`: JSON answers, idempotent repeats, refusals
that name what is wrong (exit 2)."""

from __future__ import annotations

import json

import pytest

from siyu.context import AppContext

from .conftest import Cli, cli_env

PHONE = "13800138000"


@pytest.fixture
def env(ctx: AppContext) -> dict[str, str]:
    with ctx.db.session() as s:
        ctx.profiles(s).identify([ctx.parser.parse("phone", PHONE)])
    return cli_env(ctx.settings)


def test_checkin_tasks_catalogue_and_birthdays(env: dict[str, str]) -> None:
    loyalty, checkins = Cli(env, ["loyalty"]), Cli(env, ["checkins"])
    tasks, catalogue = Cli(env, ["tasks"]), Cli(env, ["catalogue"])
    loyalty.json("enrol", PHONE)
    loyalty.json("award", PHONE, "500", "--reason", "seed", "--external-id", "seed")
    settings = checkins.json("settings", "--points", "5", "--milestones", '{"2": 10}')
    assert settings == {"points": 5, "milestones": {"2": 10}}
    first = checkins.json("checkin", PHONE)
    again = checkins.json("checkin", PHONE)
    assert (first["new"], again["new"], first["points"], again["balance"]) == (True, False, 5, 505)
    assert [r["streak"] for r in checkins.json("history", PHONE)] == [1]
    assert "checkin.milestones.0" in checkins.fails("settings", "--milestones", '{"0": 1}', code=2)
    assert "--milestones" in checkins.fails("settings", "--milestones", "{oops", code=2)

    condition = json.dumps({"event": "Review Posted"})
    task = tasks.json(
        "add", "review", "--name", "写评价", "--condition", condition, "--points", "20", "--badge", "critic"
    )
    assert task["badge"] == "critic"
    assert "condition.count" in tasks.fails(
        "add", "bad", "--name", "x", "--condition", '{"event": "X", "count": 0}', code=2
    )
    assert tasks.json("update", "review", "--inactive")["active"] is False
    assert [t["key"] for t in tasks.json("list")] == ["review"]
    assert tasks.json("run")["completed"] == {}

    catalogue.json("add", "mug", "--name", "马克杯", "--kind", "gift", "--points", "300", "--stock", "1")
    r1 = catalogue.json("redeem", PHONE, "mug", "--external-id", "r-1")
    r2 = catalogue.json("redeem", PHONE, "mug", "--external-id", "r-1")
    assert r1["id"] == r2["id"] and r1["balance"] == 205
    assert "out of stock" in catalogue.fails("redeem", PHONE, "mug", "--external-id", "r-2", code=2)
    assert "coupon_template" in catalogue.fails("add", "tea", "--name", "茶", "--points", "10", code=2)
    assert [r["item"] for r in catalogue.json("redemptions", PHONE)] == ["mug"]
    assert Cli(env, ["birthdays"]).json("run")["gifted"] == 0
