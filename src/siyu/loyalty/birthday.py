"""The birthday gift (生日礼): once a year, on the member's birthday in the member's time zone
(the ``timezone`` trait, else the brand's), the programme's ``birthday_points`` plus the tier's
``birthday_points`` and the tier's ``birthday_coupon``.

The birthday is the card's ``birthday``, else the ``birthday`` trait (``YYYY-MM-DD``, or
``MM-DD``). A 29 February birthday is celebrated on 28 February in other years. The member's
``birthday_year`` records the local year of the last gift, and the rewards carry the external ids
``birthday:<contact>:<year>``, so the daily job (run it as often as you like) gives once a year.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from siyu.coupons.errors import CouponError
from siyu.coupons.service import CouponService
from siyu.journeys.facts import time_zones
from siyu.loyalty.ledger import Ledger, brand_tz, lock_members
from siyu.loyalty.programme import get_programme
from siyu.store.changes import note_changed
from siyu.store.dialect import chunked
from siyu.store.models import ContactAttribute, LoyaltyMember, LoyaltyTier, utcnow

log = logging.getLogger(__name__)


def parse_birthday(value: Any) -> tuple[int, int] | None:
    """(month, day) of a stored birthday, or None when it cannot be read."""
    if isinstance(value, date):
        return value.month, value.day
    text = str(value or "").strip()[:10]
    parts = text.split("-")
    try:
        month, day = (int(parts[1]), int(parts[2])) if len(parts) == 3 else (int(parts[0]), int(parts[1]))
    except (ValueError, IndexError):
        return None
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:
        return None
    return month, day


def is_birthday(month_day: tuple[int, int], today: date) -> bool:
    if month_day == (today.month, today.day):
        return True
    leap_day = month_day == (2, 29) and not calendar.isleap(today.year)
    return leap_day and (today.month, today.day) == (2, 28)


@dataclass
class BirthdayRun:
    members: int = 0  # members with a readable birthday looked at
    gifted: int = 0
    points: int = 0
    coupons: int = 0
    coupon_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


LAST_RUN = "loyalty.birthdays_at"


def run_birthdays_if_due(
    session: Session, *, now: datetime | None = None, every_s: float = 3600
) -> BirthdayRun | None:
    """For ``siyu serve``'s round: run at most once per ``every_s`` (the job reads every member,
    so not every minute; hourly still gifts each member within an hour of their local midnight)."""
    from siyu.store.settings import get_setting, put_setting

    now = now or utcnow()
    last = get_setting(session, LAST_RUN)
    if last and (now - datetime.fromisoformat(str(last))).total_seconds() < every_s:
        return None
    put_setting(session, LAST_RUN, now.isoformat())
    return run_birthdays(session, now=now)


def run_birthdays(session: Session, *, now: datetime | None = None, tz: str | None = None) -> BirthdayRun:
    """Give today's birthday gifts (the caller commits)."""
    now = now or utcnow()
    zone = tz or brand_tz(session)
    prog = get_programme(session)
    tiers = {t.id: t for t in session.scalars(select(LoyaltyTier))}
    result = BirthdayRun()
    # members not gifted in this UTC year: a birthday on 1 January is given once UTC reaches
    # the new year too (08:00 in Beijing), the next run after the local midnight
    rows = session.execute(
        select(LoyaltyMember.contact_id, LoyaltyMember.birthday, LoyaltyMember.tier_id).where(
            LoyaltyMember.status == "active",
            or_(LoyaltyMember.birthday_year.is_(None), LoyaltyMember.birthday_year < now.year),
        )
    ).all()
    for chunk in chunked(rows):
        ids = [r[0] for r in chunk]
        traits = dict(
            session.execute(
                select(ContactAttribute.contact_id, ContactAttribute.value).where(
                    ContactAttribute.name == "birthday", ContactAttribute.contact_id.in_(ids)
                )
            ).all()
        )
        zones = time_zones(session, ids, zone)
        for cid, card_birthday, tier_id in chunk:
            md = parse_birthday(card_birthday) if card_birthday else parse_birthday(traits.get(cid))
            if md is None:
                continue
            result.members += 1
            today = now.astimezone(zones[cid]).date()
            if is_birthday(md, today):
                _gift(
                    session,
                    cid,
                    today.year,
                    prog.birthday_points,
                    tiers.get(tier_id or -1),
                    now,
                    zone,
                    result,
                )
    return result


def _gift(
    session: Session,
    cid: int,
    year: int,
    base_points: int,
    tier: LoyaltyTier | None,
    now: datetime,
    zone: str,
    result: BirthdayRun,
) -> None:
    lock_members(session, [cid])
    member = session.get(LoyaltyMember, cid)
    if member is None or (member.birthday_year is not None and member.birthday_year >= year):
        return
    member.birthday_year, member.updated_at = year, now
    ext = f"birthday:{cid}:{year}"
    points = base_points + (tier.birthday_points if tier else 0)
    if points:
        Ledger(session, now=now, tz=zone).award(
            cid, points, source="birthday", reason="生日礼", external_id=ext
        )
        result.points += points
    if tier is not None and tier.birthday_coupon:
        try:
            with session.begin_nested():
                got = CouponService(session, now=now).issue(
                    tier.birthday_coupon, cid, issued_by=f"birthday:{tier.key}", external_id=ext
                )
            result.coupons += got is not None
        except CouponError as exc:  # the points still count; the template needs attention
            log.warning("birthday coupon %s for %s not issued: %s", tier.birthday_coupon, cid, exc)
            result.coupon_errors += 1
    result.gifted += 1
    note_changed(session, [cid])
