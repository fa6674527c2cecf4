"""The referral tree as nested data for a tree or sunburst drawing: the campaign at the root,
its seeds (inviters nobody invited in this campaign) below, then their invitees to any depth.
Each node carries the size of its subtree, so a drawing can size wedges without recounting.

Big campaigns are cut at ``max_nodes`` (the largest subtrees kept first, breadth first); a cut
node says how many descendants it hides (``hidden``), so the drawing stays honest."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.referrals.leaderboard import mask_name, names
from siyu.store.models import Referral, ReferralCampaign


def tree(session: Session, campaign: ReferralCampaign, max_nodes: int = 2000) -> dict[str, Any]:
    """``{"campaign", "size", "children": [{"contact_id", "name", "status", "generation",
    "size", "hidden", "children": [...]}, ...]}``; a seed's status is ``seed``, ``size``
    counts the node and its descendants, voided edges included (marked by status)."""
    rows = session.execute(
        select(Referral.inviter_id, Referral.invitee_id, Referral.status, Referral.generation).where(
            Referral.campaign_id == campaign.id
        )
    ).all()
    children: dict[int, list[int]] = defaultdict(list)
    info: dict[int, tuple[str, int]] = {}
    for inviter, invitee, status, gen in rows:
        children[inviter].append(invitee)
        info[invitee] = (status, gen)
    seeds = sorted(c for c in children if c not in info)
    size: dict[int, int] = {}

    def measure(root: int) -> None:
        """Iterative post-order (trees can be deeper than Python's recursion). Each invitee has
        one inviter per campaign, so nothing below a seed loops; a ring has no seed above it
        and is not drawn (the fraud queue shows it)."""
        stack: list[tuple[int, bool]] = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                size[node] = 1 + sum(size[c] for c in children.get(node, ()))
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in children.get(node, ()))

    for s in seeds:
        measure(s)
    budget = [max_nodes]
    kept: list[int] = []
    nodes: dict[int, dict[str, Any]] = {}

    def make(cid: int, status: str, gen: int) -> dict[str, Any]:
        node = {
            "contact_id": cid,
            "name": None,
            "status": status,
            "generation": gen,
            "size": size.get(cid, 1),
        }
        node["hidden"] = 0
        node["children"] = []
        nodes[cid] = node
        kept.append(cid)
        budget[0] -= 1
        return node

    root = {"campaign": campaign.key, "size": sum(size.get(s, 1) for s in seeds), "children": []}
    queue: list[tuple[dict[str, Any], int]] = []
    for s in sorted(seeds, key=lambda c: -size.get(c, 1)):
        if budget[0] <= 0:
            break
        node = make(s, "seed", 0)
        root["children"].append(node)
        queue.append((node, s))
    head = 0
    while head < len(queue):
        parent, cid = queue[head]
        head += 1
        for child in sorted(children.get(cid, ()), key=lambda c: -size.get(c, 1)):
            if child in nodes:
                continue
            if budget[0] <= 0:
                parent["hidden"] += size.get(child, 1)
                continue
            status, gen = info.get(child, ("pending", 0))
            node = make(child, status, gen)
            parent["children"].append(node)
            queue.append((node, child))
    shown = names(session, kept)
    for cid, node in nodes.items():
        node["name"] = mask_name(shown.get(cid))
    return root


def flatten(root: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{"id", "parent", "contact_id", "name", "status", "generation", "size"}`` in
    breadth-first order: the ids/parents arrays a Plotly sunburst or treemap wants."""
    out: list[dict[str, Any]] = []
    queue: list[tuple[dict[str, Any], str]] = [(c, "") for c in root["children"]]
    head = 0
    while head < len(queue):
        node, parent = queue[head]
        head += 1
        nid = f"{parent}/{node['contact_id']}" if parent else str(node["contact_id"])
        out.append({"id": nid, "parent": parent, **{k: v for k, v in node.items() if k != "children"}})
        queue.extend((c, nid) for c in node["children"])
    return out
