"""Daily check-ins (签到): one per member per *local* calendar day (the contact's ``timezone``
trait, else the brand's zone), with a streak that a missed day resets, points per check-in and
extra points on streak milestones, set in the programme's ``checkin`` settings
(``{"points": 1, "milestones": {"7": 20, "30": 100}}``).

A check-in is idempotent per day: a second call the same local day returns the first and awards
nothing (the ``checkins`` row's key is (contact, day); the ledger's external ids
``checkin:<contact>:<day>`` and ``checkin-streak:<contact>:<day>`` guard the points too). Calls
for one member are serialised by the ledger's member lock, so two taps at once cannot both count.

WeChat's external-link rules (since 2019-10-28) ban rewarding the sharing of links, 签到打卡
included: a check-in here is the member's own act and is never gated on, or rewarded for,
sharing anything. Keep it that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.journeys.facts import time_zones
from siyu.loyalty.ledger import Ledger, brand_tz, lock_members
from siyu.loyalty.programme import MAX_POINTS, LoyaltyError, get_programme
from siyu.store.changes import emit_events, note_changed
from siyu.store.models import Checkin, LoyaltyMember, utcnow

MAX_MILESTONE_DAYS = 3660


@dataclass
class CheckinResult:
    contact_id: int
    day: date
    streak: int
    points: int  # awarded for this check-in, milestone included
    milestone: int  # the milestone's extra points (0: none)
    new: bool  # False: already checked in that day (nothing awarded now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "day": self.day.isoformat(),
            "streak": self.streak,
            "points": self.points,
            "milestone": self.milestone,
            "new": self.new,
        }


def check_settings(value: object) -> dict[str, Any]:
    """The programme's ``checkin`` settings, checked: ``points`` 0..MAX_POINTS and
    ``milestones`` {streak days (1..3660): extra points}; errors name the field."""
    if not isinstance(value, dict):
        raise LoyaltyError(
            "invalid_checkin", "checkin: an object with points and milestones", field="checkin"
        )
    unknown = sorted(set(value) - {"points", "milestones"})
    if unknown:
        raise LoyaltyError(
            "invalid_checkin", f"checkin.{unknown[0]}: unknown setting", field=f"checkin.{unknown[0]}"
        )
    points = _count(value.get("points", 0), "checkin.points")
    raw = value.get("milestones") or {}
    if not isinstance(raw, dict):
        raise LoyaltyError(
            "invalid_checkin", "checkin.milestones: {days: points}", field="checkin.milestones"
        )
    milestones: dict[str, int] = {}
    for key, extra in raw.items():
        where = f"checkin.milestones.{key}"
        try:
            days = int(str(key).strip())
        except ValueError:
            raise LoyaltyError(
                "invalid_checkin", f"{where}: days must be a whole number", field=where
            ) from None
        if not 1 <= days <= MAX_MILESTONE_DAYS:
            raise LoyaltyError(
                "invalid_checkin", f"{where}: days must be 1–{MAX_MILESTONE_DAYS}", field=where
            )
        milestones[str(days)] = _count(extra, where)
    return {"points": points, "milestones": dict(sorted(milestones.items(), key=lambda kv: int(kv[0])))}


def _count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POINTS:
        raise LoyaltyError(
            "invalid_checkin", f"{field}: a whole number of points, 0–{MAX_POINTS}", field=field
        )
    return value


class CheckinService:
    def __init__(self, session: Session, *, now: datetime | None = None, tz: str | None = None) -> None:
        self.session = session
        self.now = now or utcnow()
        self.tz = tz or brand_tz(session)

    def settings(self) -> dict[str, Any]:
        raw = get_programme(self.session).checkin or {}
        try:
            return check_settings(raw)
        except LoyaltyError:  # a hand-edited row must not stop check-ins: nothing is awarded
            return {"points": 0, "milestones": {}}

    def set_settings(self, value: object, *, actor: str = "system") -> dict[str, Any]:
        checked = check_settings(value)
        prog = get_programme(self.session)
        prog.checkin = checked
        prog.updated_at = self.now
        audit.record(self.session, actor, "checkin_settings.updated", "loyalty_programme", prog.id, checked)
        return checked

    def local_day(self, contact_id: int) -> date:
        zone = time_zones(self.session, [contact_id], self.tz)[contact_id]
        return self.now.astimezone(zone).date()

    def check_in(self, contact_id: int, *, actor: str = "system") -> CheckinResult:
        lock_members(self.session, [contact_id])
        member = self.session.get(LoyaltyMember, contact_id)
        if member is None or member.status != "active":
            raise LoyaltyError(
                "not_a_member", f"contact {contact_id} has no active membership", field="contact"
            )
        day = self.local_day(contact_id)
        found = self.session.get(Checkin, (contact_id, day))
        if found is not None:
            return CheckinResult(contact_id, day, found.streak, found.points, 0, False)
        streak = member.checkin_streak + 1 if member.last_checkin_day == day - timedelta(days=1) else 1
        rules = self.settings()
        base, extra = rules["points"], rules["milestones"].get(str(streak), 0)
        ledger = Ledger(self.session, now=self.now, tz=self.tz)
        if base:
            ledger.award(
                contact_id,
                base,
                source="checkin",
                reason="签到",
                external_id=f"checkin:{contact_id}:{day.isoformat()}",
                actor=actor,
            )
        if extra:
            ledger.award(
                contact_id,
                extra,
                source="checkin",
                reason=f"连续签到 {streak} 天",
                external_id=f"checkin-streak:{contact_id}:{day.isoformat()}",
                actor=actor,
            )
        self.session.add(
            Checkin(contact_id=contact_id, day=day, streak=streak, points=base + extra, created_at=self.now)
        )
        member.checkin_streak, member.last_checkin_day, member.updated_at = streak, day, self.now
        self.session.flush()
        emit_events(
            self.session,
            "Checked In",
            [
                (
                    f"Checked In:{contact_id:012d}:{day.isoformat()}",
                    contact_id,
                    {"streak": streak, "points": base + extra, "day": day.isoformat()},
                )
            ],
            self.now,
        )
        note_changed(self.session, [contact_id])
        return CheckinResult(contact_id, day, streak, base + extra, extra, True)

    def history(self, contact_id: int, limit: int = 60) -> list[Checkin]:
        return list(
            self.session.scalars(
                select(Checkin)
                .where(Checkin.contact_id == contact_id)
                .order_by(Checkin.day.desc())
                .limit(limit)
            )
        )

    def streak(self, contact_id: int) -> int:
        """The current streak: 0 when the last check-in was before yesterday (local)."""
        member = self.session.get(LoyaltyMember, contact_id)
        if member is None or member.last_checkin_day is None:
            return 0
        today = self.local_day(contact_id)
        return member.checkin_streak if member.last_checkin_day >= today - timedelta(days=1) else 0
