"""Velocity bursts: at least ``burst_count`` invites by one inviter within ``burst_minutes``.
A burst whose invitees are mostly new accounts (created within ``new_account_hours`` of their
invite) adds ``burst_new_accounts``: a real customer telling friends in a group chat makes a
burst of existing WeChat users, a farm makes one of accounts registered for the occasion."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta

from siyu.referrals.fraud.context import Edge, Snapshot
from siyu.referrals.fraud.rules import Thresholds

Finding = tuple[int, str, str]


def signal(snap: Snapshot, th: Thresholds, now: datetime) -> Iterator[Finding]:
    wanted = {snap.edges[i].inviter_id for i in snap.targets}
    by_inviter: dict[int, list[Edge]] = defaultdict(list)
    for e in snap.edges.values():
        if e.inviter_id in wanted:
            by_inviter[e.inviter_id].append(e)
    span = timedelta(minutes=th.burst_minutes)
    young = timedelta(hours=th.new_account_hours)
    for edges in by_inviter.values():
        if len(edges) < th.burst_count:
            continue
        edges.sort(key=lambda e: e.invited_at)
        in_burst: set[int] = set()
        start = 0
        for end, e in enumerate(edges):  # two pointers: the window [start, end] spans ≤ span
            while e.invited_at - edges[start].invited_at > span:
                start += 1
            if end - start + 1 >= th.burst_count:
                in_burst.update(x.id for x in edges[start : end + 1])
        if not in_burst:
            continue
        burst = [e for e in edges if e.id in in_burst]
        new = sum(1 for e in burst if _is_new(snap, e, young))
        many_new = new >= th.new_account_share * len(burst)
        for e in burst:
            if e.id in snap.targets:
                yield e.id, "velocity_burst", f"{len(burst)} / {th.burst_minutes} min"
                if many_new:
                    yield e.id, "burst_new_accounts", f"{new} / {len(burst)}"


def _is_new(snap: Snapshot, e: Edge, young: timedelta) -> bool:
    created = snap.created.get(e.invitee_id)
    return created is not None and created >= e.invited_at - young
