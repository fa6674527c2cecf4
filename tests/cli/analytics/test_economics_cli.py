"""`siyu analytics spend import|list`, `siyu analytics roi` and `siyu analytics churn` as
operators run them (Typer's runner, SIYU_* variables pointing at the test database): JSON and
CSV output, rejected spend rows named with exit code 2, clean failures, Chinese messages, and
``churn --store`` feeding the segment condition. Expected numbers are worked out by hand from the
data written here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from tests.cli.conftest import Cli, cli_env, squash

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import EntryCode

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def at(days: float) -> str:
    return (T0 + timedelta(days=days)).isoformat()


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    """Two channels, an entry code of the spring campaign, four customers:
    u1 and u2 came through the spring code (ads), u3 through wecom, u4 by itself."""
    client = Siyu(ctx)
    client.create_channel("ads", "ads", "广告投放")
    client.create_channel("wecom", "wecom", "企业微信")
    client.create_entry_code("ads", "ads-spring")
    with ctx.db.session() as s:
        s.execute(update(EntryCode).where(EntryCode.state == "ads-spring").values(campaign="spring"))

    def call(
        uid: str, days: float, event: str = "Page Viewed", amount: float | None = None, **context: Any
    ) -> dict:
        props = {} if amount is None else {"amount": amount}
        n = len(calls)
        return {
            "type": "track",
            "event": event,
            "userId": uid,
            "properties": props,
            "timestamp": at(days),
            "messageId": f"m{n}",
            "context": context,
        }

    calls: list[dict[str, Any]] = []
    calls.append(call("u1", 1, state="ads-spring"))
    calls.append(call("u1", 2, "Order Completed", 100))
    calls.append(call("u1", 3, "Order Completed", 50))
    calls.append(call("u2", 2, state="ads-spring"))
    calls.append(call("u2", 4, "Order Completed", 30))
    calls.append(call("u3", 3, campaign={"source": "wecom"}))
    calls.append(call("u4", 1, "Order Completed", 20))
    assert client.batch(calls).rejected == []
    return Cli(cli_env(ctx.settings))


SPEND = (
    "channel,campaign,period_start,period_end,amount,currency,impressions,clicks\n"
    "ads,spring,2026-03-01,2026-03-10,200,,10000,500\n"
    "企业微信,,2026-03-01,2026-03-10,50,,,\n"
    "tiktok,,2026-03-01,2026-03-10,70,,,\n"
)


def test_spend_import_list_and_roi(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(SPEND, encoding="utf-8")
    report = cli.json("analytics", "spend", "import", str(path), code=2)  # a row was rejected
    assert (report["rows"], report["inserted"], report["updated"]) == (3, 2, 0)
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(4, "channel")]
    text = cli("analytics", "spend", "import", str(path), code=2)
    assert "3 rows: 0 new, 0 updated, 2 unchanged, 1 rejected." in text.stdout
    assert "line 4, channel: unknown channel 'tiktok'" in text.stderr
    listed = cli.json("analytics", "spend", "list")
    assert [(r["channel"], r["campaign"], r["amount"]) for r in listed] == [
        ("ads", "spring", 200.0),
        ("wecom", None, 50.0),
    ]
    assert cli.json("analytics", "spend", "list", "--channel", "企业微信")[0]["channel"] == "wecom"

    result = cli.json("analytics", "roi", "--from", "2026-03-01", "--to", "2026-03-10")
    rows = {r["channel"]: r for r in result["rows"]}
    ads = rows["ads"]  # u1 (orders 100 + 50) and u2 (30)
    assert (ads["spend"], ads["acquired"], ads["customers"], ads["repurchasers"], ads["revenue"]) == (
        200.0,
        2,
        2,
        1,
        180.0,
    )
    assert (ads["cac"], ads["roi"], ads["ltv"], ads["ltv_cac"]) == (100.0, -0.1, 90.0, 0.9)
    assert (ads["click_rate"], ads["consult_rate"], ads["purchase_rate"], ads["repurchase_rate"]) == (
        0.05,
        0.004,
        1.0,
        0.5,
    )
    wecom = rows["wecom"]  # u3, no order
    assert (wecom["spend"], wecom["acquired"], wecom["revenue"], wecom["cac"], wecom["roi"]) == (
        50.0,
        1,
        0.0,
        50.0,
        -1.0,
    )
    assert (rows[None]["acquired"], rows[None]["revenue"], rows[None]["cac"]) == (1, 20.0, None)
    assert (result["total"]["spend"], result["total"]["revenue"], result["total"]["acquired"]) == (
        250.0,
        200.0,
        4,
    )

    campaigns = cli.json("analytics", "roi", "--from", "2026-03-01", "--to", "2026-03-10", "--by", "campaign")
    keyed = {(r["channel"], r["campaign"]): r["spend"] for r in campaigns["rows"]}
    assert keyed == {("ads", "spring"): 200.0, ("wecom", None): 50.0, (None, None): 0.0}
    csv = cli("analytics", "roi", "--from", "2026-03-01", "--to", "2026-03-10", "--csv").stdout.splitlines()
    assert csv[0].startswith('"channel","channel_name","spend"') and len(csv) == 4
    err = squash(cli.fails("analytics", "roi", "--from", "2026-03-10", "--to", "2026-03-01"))
    assert "tomustbeonorafterfrom" in err
    assert "by" in squash(cli.fails("analytics", "roi", "--by", "week"))


def test_spend_import_of_an_unreadable_file_fails_cleanly(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("channel,amount\nads,1\n")
    assert "missingcolumn(s)campaign,period_start,period_end" in squash(
        cli.fails("analytics", "spend", "import", str(bad))
    )
    assert "尚未导入投放花费" in cli("analytics", "spend", "list", SIYU_LANG="zh").stdout


def test_churn_store_and_the_segment_condition(cli: Cli, ctx: AppContext, tmp_path: Path) -> None:
    # u1..u4 from the fixture stop early; u5..u8 keep coming back every other day until day 80
    calls = [
        {
            "type": "track",
            "event": "Page Viewed",
            "userId": f"u{u}",
            "timestamp": at(d),
            "messageId": f"c{u}-{d}",
        }
        for u in range(1, 9)
        for d in range(-60 + u % 2, 5 if u <= 4 else 81, 2)
    ]
    assert Siyu(ctx).batch(calls).rejected == []
    assert "as_of" in squash(cli.fails("analytics", "churn", "--as-of", "2026-01-01"))
    out = cli.json("analytics", "churn", "--as-of", "2026-05-19", "--store", "--top", "3")
    # cutoffs (end of day, UTC): days ~20 (train), ~50 (holdout), ~80 (score); u1..u4 are silent
    # after day 4, so they churn after both labelled cutoffs and u5..u8 do not
    assert (out["train_contacts"], out["holdout_contacts"], out["scored_contacts"]) == (8, 8, 8)
    assert (out["train_churn_rate"], out["holdout_churn_rate"], out["auc"]) == (0.5, 0.5, 1.0)
    assert out["stored"] == {"inserted": 8, "updated": 0, "deleted": 0, "unchanged": 0}
    assert out["at_risk"] == 4 and len(out["top"]) == 3
    zh = cli("analytics", "churn", "--as-of", "2026-05-19", "--store", SIYU_LANG="zh").stdout
    assert "评分已保存：新增 0，更新 0，删除 0，未变 8。" in zh
    segment = tmp_path / "risk.json"
    segment.write_text(json.dumps({"type": "churn_risk", "op": "gte", "value": 0.85}))
    preview = cli.json("segments", "preview", str(segment))
    lapsed = sorted(Siyu(ctx).contact(f"customer_no:u{u}")["id"] for u in range(1, 5))
    assert preview["count"] == 4 and preview["sample"] == lapsed
