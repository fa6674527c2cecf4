"""The referral events, recorded as system events on the contacts they concern so journeys can
act on them (the "还差 2 位好友" progress message is a journey on ``Referral Invited`` reading
``remaining``). Message ids carry the referral or reward id, so a job run twice records each
event once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.store.changes import emit_events, note_changed

INVITED = "Referral Invited"
QUALIFIED = "Referral Qualified"
APPROVED = "Referral Approved"
VOIDED = "Referral Voided"
REWARD_PAID = "Referral Reward Paid"


def emit(session: Session, name: str, key: str, contact_id: int, props: dict[str, Any], at: datetime) -> None:
    slug = name.lower().replace(" ", "-")
    emit_events(session, name, [(f"{slug}:{contact_id:012d}:{key}", contact_id, props)], at)
    note_changed(session, [contact_id])
