"""Device and IP reuse across invitees: one phone or one IP behind many "different" friends of
the same campaign is a farm. IPs need many more invitees than devices (offices, campuses and
mobile carriers' NAT share one address)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from siyu.referrals.fraud.context import Snapshot
from siyu.referrals.fraud.rules import Thresholds

Finding = tuple[int, str, str]


def signal(snap: Snapshot, th: Thresholds, now: datetime) -> Iterator[Finding]:
    for attr, code, limit in (("device", "device_reuse", th.device_reuse), ("ip", "ip_reuse", th.ip_reuse)):
        wanted = {getattr(snap.edges[i], attr) for i in snap.targets} - {None, ""}
        users: dict[str, set[int]] = defaultdict(set)
        for e in snap.edges.values():
            value = getattr(e, attr)
            if value in wanted:
                users[value].add(e.invitee_id)
        for i in snap.targets:
            value = getattr(snap.edges[i], attr)
            if value in users and len(users[value]) >= limit:
                yield i, code, f"{len(users[value])}"
