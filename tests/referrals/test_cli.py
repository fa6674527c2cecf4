"""The CLI contract: ``campaigns create FILE --json`` prints ``{"key": …}``; ``code CAMPAIGN
IDENTIFIER --json`` prints ``{"code", "state", "url"}``; ``list CAMPAIGN --json`` prints each
referral with ``status`` and fraud ``reasons``; bad files name their fields."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from tests.cli.conftest import Cli, cli_env
from tests.referrals.conftest import definition

from siyu.client import Siyu


def test_cli_contract(client: Siyu, coupon_template, tmp_path: Path) -> None:
    coupon_template()
    cli = Cli(cli_env(client.ctx.settings))
    path = tmp_path / "spring.yaml"
    path.write_text(yaml.safe_dump(definition(starts_at=None), allow_unicode=True), encoding="utf-8")
    assert cli.json("referrals", "campaigns", "create", str(path))["key"] == "spring"
    assert cli.json("referrals", "campaigns", "activate", "spring")["status"] == "active"
    assert [c["key"] for c in cli.json("referrals", "campaigns", "list")] == ["spring"]
    client.identify({"phone": "13800138000"})
    got = cli.json("referrals", "code", "spring", "13800138000")
    assert set(got) >= {"code", "state", "url"} and got["url"].endswith(got["code"])
    client.track("Page Viewed", {"customer_no": "F1"}, {"referral_code": got["code"]})
    rows = cli.json("referrals", "list", "spring")
    assert [(r["status"], r["reasons"]) for r in rows] == [("pending", [])]
    assert cli.json("referrals", "run")["approve"] == 0
    assert cli.json("referrals", "campaigns", "show", "spring")["counts"]["pending"] == 1


def test_cli_names_bad_fields(client: Siyu, tmp_path: Path) -> None:
    cli = Cli(cli_env(client.ctx.settings))
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"key": "x", "kind": "task", "rewards": [{"invites": 0, "gift": "g"}]}))
    result = cli("referrals", "campaigns", "create", str(path), "--json", code=2)
    fields = {e["field"] for e in json.loads(result.stdout)["errors"]}
    assert fields == {"rewards[0].invites", "target.staff"}
    assert "no referral campaign" in cli.fails("referrals", "campaigns", "show", "nope", code=1)
