"""After the target: invitees who never do anything again once qualified (``no_activity``,
weak: quiet customers exist) and invitees who delete the staff member within ``delete_hours``
of adding them (``deleted_staff``: added for the reward, then gone; del_follow_user)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from siyu.referrals.fraud.context import Snapshot
from siyu.referrals.fraud.rules import Thresholds

Finding = tuple[int, str, str]
#: The qualifying event itself is not "activity after the target".
SLACK = timedelta(minutes=1)


def signal(snap: Snapshot, th: Thresholds, now: datetime) -> Iterator[Finding]:
    quiet = timedelta(days=th.no_activity_days)
    window = timedelta(hours=th.delete_hours)
    for e in snap.scored():
        if e.qualified_at is not None and now - e.qualified_at >= quiet:
            last = snap.last_activity.get(e.invitee_id)
            if last is None or last <= e.qualified_at + SLACK:
                yield e.id, "no_activity", f"{th.no_activity_days}d"
        for added, deleted, by in snap.follows.get(e.invitee_id, ()):
            if by != "customer" or deleted is None:
                continue
            start = added or e.invited_at
            if deleted >= e.invited_at - SLACK and deleted - start <= window:
                hours = (deleted - start).total_seconds() / 3600
                yield e.id, "deleted_staff", f"{hours:.1f}h"
                break
