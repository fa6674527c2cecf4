"""`siyu analytics member-repurchase | points-liability | tiers | coupons` as operators run them:
``--json`` is the Python API's payload in the brand's zone (Beijing by default), ``--csv`` the
main table, the plain table carries ¥ and %, and a bad parameter fails cleanly naming it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.analytics.loyalty.rows import ZONE, run
from tests.analytics.loyalty.test_coupons import campaign  # noqa: F401  (fixture)
from tests.analytics.loyalty.test_repurchase import march  # noqa: F401  (fixture)
from tests.analytics.loyalty.test_tiers import history  # noqa: F401  (fixture)
from tests.cli.conftest import Cli, cli_env

from siyu.context import AppContext

MARCH = ("--from", "2026-03-01", "--to", "2026-03-31")


def cli_for(ctx: AppContext) -> Cli:
    return Cli(cli_env(ctx.settings), ("analytics",))


def test_member_repurchase_json_csv_and_table(ctx: AppContext, march: Any) -> None:  # noqa: F811
    cli = cli_for(ctx)
    payload = cli.json("member-repurchase", *MARCH)
    assert payload["timezone"] == ZONE  # the brand's zone, not UTC
    assert (
        payload
        == run(
            ctx, "member_repurchase", **{"from": "2026-03-01", "to": "2026-03-31"}, timezone=ZONE
        ).to_dict()
    )
    members = next(r for r in payload["rows"] if r["segment"] == "members")
    assert (members["buyers"], members["repeat_buyers"], members["aov"]) == (4, 2, 140.0)
    csv = cli("member-repurchase", *MARCH, "--csv").stdout
    assert (
        csv.splitlines()[0]
        == '"segment","buyers","repeat_buyers","repurchase_rate","orders","gmv","aov","orders_per_buyer"'
    )
    table = cli("member-repurchase", *MARCH).stdout
    assert "50.0%" in table and "¥140.00" in table and "¥840.00" in table


def test_tiers_migration_csv(ctx: AppContext, history: Any, tmp_path: Path) -> None:  # noqa: F811
    cli = cli_for(ctx)
    rows = cli("tiers", *MARCH, "--table", "migration", "--csv").stdout.splitlines()
    assert rows[0].startswith('"from_tier","from_name"')
    assert '"silver","银卡","Silver","silver","银卡","Silver","same",3' in rows
    assert cli.json("tiers", *MARCH)["migration"][0]["movement"] == "up"
    chart = tmp_path / "tiers.html"
    cli("tiers", *MARCH, "--chart", str(chart), "--json", SIYU_LANG="zh")
    page = chart.read_text()
    assert "期初等级" in page and "银卡" in page  # the chart in the CLI's language
    assert not re.search(r"<script[^>]+src=", page) and "Plotly.newPlot" in page  # opens offline
    err = cli.fails("tiers", "--table", "sideways")
    assert "table" in err


def test_coupons_and_points_liability(ctx: AppContext, campaign: Any) -> None:  # noqa: F811
    cli = cli_for(ctx)
    rows = {r["template"]: r for r in cli.json("coupons", *MARCH)["rows"]}
    assert rows["new50"]["roi"] == 2.8 and rows["vip20"]["note"] == "no_holdout"
    assert "280.0%" in cli("coupons", *MARCH, "--template", "new50").stdout  # ROI as a percentage
    err = cli.fails("coupons", "--template", "nope")
    assert "template" in err and "nope" in err
    liability = cli.json("points-liability")
    assert liability["rows"] == [] and liability["breakage"]["breakage_rate"] is None
