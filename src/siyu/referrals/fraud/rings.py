"""Rings: accounts inviting each other. A cycle in the inviter graph (across campaigns: A brings
B into one campaign, B brings A into the next) is a strongly connected component of two or more
contacts; a dense cluster is a connected group, mostly of new accounts, with at least as many
distinct inviter–invitee pairs as members (an honest referral tree has one fewer). Both come
from scipy's sparse graph routines (already a dependency), linear in the edges, so a million
edges take seconds rather than a Python DFS's minutes and its recursion limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from siyu.referrals.fraud.context import Snapshot
from siyu.referrals.fraud.rules import Thresholds

Finding = tuple[int, str, str]


def signal(snap: Snapshot, th: Thresholds, now: datetime) -> Iterator[Finding]:
    edges = list(snap.edges.values())
    pairs = [(e.inviter_id, e.invitee_id) for e in edges] + snap.cross
    if not pairs:
        return
    arr = np.asarray(pairs, dtype=np.int64)
    nodes, index = np.unique(arr, return_inverse=True)
    index = index.reshape(arr.shape)
    n = len(nodes)
    src, dst = index[:, 0], index[:, 1]
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    _count, strong = connected_components(graph, directed=True, connection="strong")
    strong_size = np.bincount(strong)
    _count, weak = connected_components(graph, directed=False)
    dense = _dense_components(snap, th, nodes, src, dst, weak)
    position = {int(c): i for i, c in enumerate(nodes)}
    for e in snap.scored():
        a, b = position[e.inviter_id], position[e.invitee_id]
        if a != b and strong[a] == strong[b]:
            yield e.id, "ring_cycle", f"{int(strong_size[strong[a]])}"
        elif weak[a] in dense:
            yield e.id, "dense_cluster", f"{dense[weak[a]]}"


def _dense_components(
    snap: Snapshot, th: Thresholds, nodes: np.ndarray, src: np.ndarray, dst: np.ndarray, weak: np.ndarray
) -> dict[int, int]:
    """Weak components with members ≥ ``cluster_min``, distinct pairs ≥ members, and at least
    ``new_account_share`` of members new accounts (created shortly before their invite)."""
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    keep = lo != hi
    unique_pairs = np.unique(lo[keep] * len(nodes) + hi[keep])
    pair_comp = weak[unique_pairs // len(nodes)]
    n_comp = int(weak.max()) + 1
    pairs_per = np.bincount(pair_comp, minlength=n_comp)
    members_per = np.bincount(weak, minlength=n_comp)
    candidates = np.nonzero((members_per >= th.cluster_min) & (pairs_per >= members_per))[0]
    if len(candidates) == 0:
        return {}
    young = timedelta(hours=th.new_account_hours)
    first_invite: dict[int, datetime] = {}
    for e in snap.edges.values():
        seen = first_invite.get(e.invitee_id)
        if seen is None or e.invited_at < seen:
            first_invite[e.invitee_id] = e.invited_at
    is_new = np.zeros(len(nodes), dtype=bool)
    for i in np.nonzero(np.isin(weak, candidates))[0].tolist():
        cid = int(nodes[i])
        created, invited = snap.created.get(cid), first_invite.get(cid)
        is_new[i] = created is not None and invited is not None and created >= invited - young
    new_per = np.bincount(weak[is_new], minlength=n_comp)
    return {
        int(c): int(members_per[c]) for c in candidates if new_per[c] >= th.new_account_share * members_per[c]
    }
