"""Self-referral: the invitee is the inviter, or shares an identifier, a device, an IP or a
payer with them. Devices and IPs of the inviter come from their device identities and from the
edge that brought them in; payers from their orders' payer property."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from siyu.referrals.fraud.context import Snapshot
from siyu.referrals.fraud.rules import Thresholds

Finding = tuple[int, str, str]


def _root(snap: Snapshot, cid: int) -> int:
    seen = 0
    while cid in snap.merged_into and seen < 32:  # merge chains are short; the bound stops a loop
        cid = snap.merged_into[cid]
        seen += 1
    return cid


def signal(snap: Snapshot, th: Thresholds, now: datetime) -> Iterator[Finding]:
    for e in snap.scored():
        a, b = e.inviter_id, e.invitee_id
        if a == b or _root(snap, a) == _root(snap, b):
            yield e.id, "self_referral", f"contact {b}"
            continue
        shared = snap.identifiers.get(a, set()) & snap.identifiers.get(b, set())
        if shared:
            yield e.id, "shared_identifier", ", ".join(sorted(kind for kind, _ in shared))
        devices_a = snap.devices.get(a, set())
        if (e.device and e.device in devices_a) or (devices_a & snap.devices.get(b, set())):
            yield e.id, "shared_device", "device"
        if e.ip and e.ip in snap.ips.get(a, set()):
            yield e.id, "shared_ip", e.ip
        if snap.payers.get(a, set()) & snap.payers.get(b, set()):
            yield e.id, "shared_payer", "payer"
