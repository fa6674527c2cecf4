"""The insights through the CLI (commands attached to a local ``referrals`` group with
``register``, as the lead attaches them to ``siyu referrals``), REST and its permissions."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import typer
from tests.cli.conftest import cli_env
from tests.conftest import RunningServer
from tests.referrals.insights_fixtures import small_tree
from typer.testing import CliRunner

from siyu.cli.referral_insights import register
from siyu.context import AppContext


def test_register_into_a_click_group() -> None:
    """The lead may build the click group first (Typer's own click) and register into it."""
    command = typer.main.get_group(typer.Typer(callback=lambda: None))
    register(command)
    assert set(command.commands) == {"stats", "leaderboard", "tree", "rescore", "review"}
    assert set(command.commands["review"].commands) == {"list", "approve", "void"}


def test_cli_stats_leaderboard_tree_review(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        t = small_tree(s)
    group = typer.Typer()

    @group.callback()
    def referrals() -> None:
        """Referral campaigns."""

    register(group)
    runner = CliRunner()
    env = cli_env(ctx.settings)

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(group, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.stdout if code == 0 else result.stderr

    stats = json.loads(run("stats", "small", "--json"))
    assert {k: stats[k] for k in ("inviters", "invites", "qualified", "k_factor", "generations")} == {
        "inviters": 4,
        "invites": 6,
        "qualified": 4,
        "k_factor": 1.0,
        "generations": [3, 2, 1],
    }
    assert "k_factor: 1.0" in run("stats", "small")
    board = json.loads(run("leaderboard", "small", "--json"))
    assert [r["name"] for r in board] == ["张**", "李**", None]
    assert "张**" in run("leaderboard", "small") and "三丰" not in run("leaderboard", "small")
    assert json.loads(run("tree", "small", "--json"))["size"] == 9
    assert "张** [seed] 7" in run("tree", "small")
    queue = json.loads(run("review", "list", "--json"))
    assert queue["total"] == 1 and queue["referrals"][0]["id"] == t.refs["H"]
    voided = json.loads(
        run("review", "void", str(t.refs["H"]), "--reason", "fraud", "--note", "farm", "--json")
    )
    assert voided["status"] == "voided" and voided["void_reason"] == "fraud"
    assert "not flagged" in run("review", "approve", str(t.refs["H"]), code=2)
    assert "no referral campaign" in run("stats", "nope", code=2)
    assert json.loads(run("rescore", "small", "--json"))["referrals"] == 7


def test_rest_and_permissions(server: RunningServer, api_key: Callable[[str], str]) -> None:
    with server.client.ctx.db.session() as s:
        t = small_tree(s)
    viewer = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key('viewer')}"}, timeout=60
    )
    operator = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key('operator')}"}, timeout=60
    )
    stats = viewer.get("/api/v1/referrals/campaigns/small/stats").json()
    assert stats["k_factor"] == 1.0 and stats["generations"] == [3, 2, 1]
    assert viewer.get("/api/v1/referrals/campaigns/small/leaderboard").json()[0]["name"] == "张**"
    assert viewer.get("/api/v1/referrals/campaigns/small/tree").json()["size"] == 9
    assert viewer.get("/api/v1/referrals/campaigns/nope/stats").status_code == 404
    queue = operator.get("/api/v1/referrals/review").json()
    assert queue["referrals"][0]["reasons"] == [] and queue["total"] == 1
    rid = t.refs["H"]
    assert viewer.post(f"/api/v1/referrals/review/{rid}/approve", json={}).status_code == 403
    bad = operator.post(f"/api/v1/referrals/review/{rid}/void", json={"reason": "because"})
    assert bad.status_code == 409 and "reason" in bad.text
    done = operator.post(f"/api/v1/referrals/review/{rid}/approve", json={"note": "known customer"})
    assert done.status_code == 200 and done.json()["status"] == "pending"
    assert operator.post(f"/api/v1/referrals/review/{rid}/approve", json={}).status_code == 409
    assert operator.post("/api/v1/referrals/review/999999/void", json={}).status_code == 404
    assert operator.post("/api/v1/referrals/campaigns/small/rescore").json()["referrals"] == 7
