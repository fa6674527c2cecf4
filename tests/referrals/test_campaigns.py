"""Campaign definitions: every bad field named at once; status moves; updates checked whole."""

from __future__ import annotations

import pytest
from tests.referrals.conftest import definition

from siyu.client import Siyu
from siyu.referrals.schemas import ReferralError, parse_campaign


def fields_of(exc: pytest.ExceptionInfo[ReferralError]) -> set[str]:
    return {f for f, _ in exc.value.errors}


def test_a_good_definition_is_read() -> None:
    spec = parse_campaign(definition(kind="task", caps={"per_inviter_month": 5}, budget="1000"))
    assert spec.kind == "task" and spec.target == {"provider": "wecom", "staff": ["zhangsan"]}
    assert spec.caps == {"per_inviter_month": 5} and str(spec.budget) == "1000.00"
    assert spec.settings["void_on_delete_hours"] == 24 and spec.settings["window_days"] == 14
    assert spec.settings["double_sided"] is False


def test_every_bad_field_is_named_at_once() -> None:
    bad = {
        "key": "Bad Key!",
        "kind": "pyramid",
        "rewards": [{"invites": 0, "coupon": "a"}, {"invites": 3}, {"invites": 3, "points": -5, "side": "x"}],
        "caps": {"per_inviter_month": "many", "weekly": 3},
        "budget": "lots",
        "hold_days": 400,
        "fraud_mode": "paranoid",
        "fraud_threshold": 101,
        "starts_at": "2026-06-01T00:00:00",
        "colour": "red",
    }
    with pytest.raises(ReferralError) as exc:
        parse_campaign(bad)
    assert {
        "key", "kind", "rewards[0].invites", "rewards[1]", "rewards[2].side", "rewards[2].points",
        "caps.per_inviter_month", "caps.weekly", "budget", "hold_days", "fraud_mode", "fraud_threshold",
        "starts_at", "colour",
    } <= fields_of(exc)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        ("task", {"staff": []}, "target.staff"),
        ("group", {"chat_ids": ["a"] * 6}, "target.chat_ids"),
        ("first_order", {"event": ""}, None),
    ],
)
def test_targets_by_kind(kind: str, target: dict, field: str | None) -> None:
    data = definition(kind=kind) | {"target": target}
    if field is None:
        assert parse_campaign(data).target == {"event": "Order Completed"}
        return
    with pytest.raises(ReferralError) as exc:
        parse_campaign(data)
    assert fields_of(exc) == {field}


def test_double_sided_follows_the_rewards() -> None:
    spec = parse_campaign(definition(rewards=[{"invites": 1, "side": "both", "points": 100}]))
    assert spec.settings["double_sided"] is True
    with pytest.raises(ReferralError) as exc:
        parse_campaign(definition(double_sided=True))
    assert fields_of(exc) == {"double_sided"}


def test_create_move_update(client: Siyu) -> None:
    made = client.referrals.create(definition("autumn"))
    assert made["key"] == "autumn" and made["status"] == "draft"
    with pytest.raises(ReferralError) as exc:
        client.referrals.create(definition("autumn"))
    assert exc.value.field == "key"
    assert client.referrals.move("autumn", "activate")["status"] == "active"
    assert client.referrals.move("autumn", "pause")["status"] == "paused"
    with pytest.raises(ReferralError):
        client.referrals.move("autumn", "pause")
    changed = client.referrals.update("autumn", {"hold_days": 14})
    assert changed["hold_days"] == 14 and changed["rewards"][0]["coupon"] == "ref-a"
    with pytest.raises(ReferralError) as exc:
        client.referrals.update("autumn", {"hold_days": -1})
    assert exc.value.field == "hold_days"
    assert client.referrals.move("autumn", "end")["status"] == "ended"
    assert [c["key"] for c in client.referrals.campaigns()] == ["autumn"]
