"""The leaderboard ranks by qualified friends with masked names; the tree nests to any depth."""

from __future__ import annotations

from tests.referrals.insights_fixtures import small_tree

from siyu.context import AppContext
from siyu.referrals.leaderboard import leaderboard, mask_name
from siyu.referrals.tree import flatten, tree
from siyu.store.models import ReferralCampaign


def test_masked_leaderboard(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        t = small_tree(s)
        board = leaderboard(s, s.get(ReferralCampaign, t.campaign_id))  # type: ignore[arg-type]
    got = [(r["rank"], r["contact_id"], r["name"], r["invites"], r["qualified"]) for r in board]
    assert got == [
        (1, t.ids["A"], "张**", 3, 2),
        (2, t.ids["C"], "李**", 2, 1),
        (3, t.ids["G"], None, 1, 1),  # a phone typed as a name is never shown
    ]
    assert "13800138000" not in repr(board) and "三丰" not in repr(board)


def test_mask_name() -> None:
    assert mask_name("张三丰") == "张**" and mask_name("Tom") == "T**"
    assert mask_name("  ") is None and mask_name("a@b.cn") is None and mask_name("138 0013 8000") is None


def test_tree_nests_generations_and_sizes(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        t = small_tree(s)
        root = tree(s, s.get(ReferralCampaign, t.campaign_id))  # type: ignore[arg-type]
        cut = tree(s, s.get(ReferralCampaign, t.campaign_id), max_nodes=3)  # type: ignore[arg-type]
    assert root["size"] == 9
    a, b = root["children"]
    assert (a["contact_id"], a["size"], a["status"], a["name"]) == (t.ids["A"], 7, "seed", "张**")
    assert (b["contact_id"], b["size"]) == (t.ids["B"], 2)
    c = next(n for n in a["children"] if n["contact_id"] == t.ids["C"])
    assert c["size"] == 4 and c["generation"] == 1 and c["status"] == "approved"
    g = next(n for n in c["children"] if n["contact_id"] == t.ids["G"])
    assert [n["contact_id"] for n in g["children"]] == [t.ids["I"]] and g["children"][0]["generation"] == 3
    rows = flatten(root)
    assert len(rows) == 9 and rows[0]["parent"] == ""
    assert {r["id"] for r in rows} >= {r["parent"] for r in rows if r["parent"]}
    assert len(flatten(cut)) == 3
    assert sum(n["hidden"] for n in flatten(cut)) == 6  # nothing silently lost: 3 shown + 6 hidden
