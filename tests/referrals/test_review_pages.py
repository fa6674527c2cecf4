"""The insights pages over HTTP: English text, the queue's decisions by form post (a second
decision on the same referral says someone else decided), and who may do what."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import ConsoleSession, RunningServer
from tests.referrals.insights_fixtures import small_tree


def test_pages_and_decisions(server: RunningServer, console_as: Callable[[str], ConsoleSession]) -> None:
    with server.client.ctx.db.session() as s:
        t = small_tree(s)
    viewer, operator = console_as("viewer"), console_as("operator")
    stats = viewer.get("/console/referrals/small/stats")
    assert stats.status_code == 200 and "K-factor" in stats.text and 'id="rfi-k">1.00<' in stats.text
    assert "data-figure" in stats.text
    tree = viewer.get("/console/referrals/small/tree")
    assert tree.status_code == 200 and "Sunburst" in tree.text.replace("sunburst", "Sunburst")
    board = viewer.get("/console/referrals/small/leaderboard")
    assert "张**" in board.text and "张三丰" not in board.text and "13800138000" not in board.text
    assert viewer.get("/console/referrals/nope/stats").status_code == 404
    queue = viewer.get("/console/referrals/review")
    assert f'data-referral="{t.refs["H"]}"' in queue.text and "button" not in queue.text.split("rfi-queue")[1]
    assert viewer.post_form(f"/console/referrals/review/{t.refs['H']}/approve").status_code == 403
    done = operator.post_form(f"/console/referrals/review/{t.refs['H']}/void", {"reason": "duplicate"})
    assert done.status_code == 200 and "Voided." in done.text
    again = operator.post_form(f"/console/referrals/review/{t.refs['H']}/approve")
    assert "Someone else already decided" in again.text
    bad = operator.post_form(f"/console/referrals/review/{t.refs['H']}/void", {"reason": "x"})
    assert bad.status_code == 422
