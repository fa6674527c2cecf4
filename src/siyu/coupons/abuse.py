"""Abuse signals (薅羊毛): the redemption patterns of coupon farming, for an operator to review.

- ``shared_device``: one device redeemed for several accounts. Devices come from the orders
  (``device``, recorded on each redemption) and from the redeemers' events (``context.device.id``);
  a phone cannot be shared in siyu (one contact per phone), a device can.
- ``device_burst`` / ``contact_burst`` / ``template_burst``: many successful redemptions within a
  short window (a script, or a leaked batch of codes).
- ``guessing``: many attempts with codes that do not exist (brute-forcing codes).
- ``refunded``: coupons redeemed and the order refunded again and again (take the discount, return
  the goods)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.store.dialect import chunked
from siyu.store.models import Event
from siyu.store.models.base import utcnow
from siyu.store.models.coupons import CouponRedemption, CouponTemplate

MAX_EVENTS = 500_000  # event contexts read per report (the redeemers' recent events)


@dataclass(frozen=True)
class Thresholds:
    days: int = 30
    accounts: int = 3  # contacts on one device
    burst: int = 10  # successful redemptions …
    burst_minutes: int = 60  # … within this many minutes
    template_burst: int = 500
    guesses: int = 10  # attempts with unknown codes
    refunds: int = 2  # redemptions rolled back by refunds


@dataclass
class Flag:
    kind: str  # device | contact | template
    subject: str  # the device id, the contact id, the template key
    reason: str
    count: int
    contacts: list[int]
    first_at: datetime
    last_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "reason": self.reason,
            "count": self.count,
            "contacts": self.contacts,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
        }


def _burst(times: list[datetime], size: int, window: timedelta) -> tuple[int, datetime, datetime] | None:
    """The largest number of times within any ``window`` when it reaches ``size``."""
    times = sorted(times)
    best, lo, span = 0, 0, (times[0], times[0]) if times else (None, None)
    for hi, at in enumerate(times):
        while at - times[lo] > window:
            lo += 1
        if hi - lo + 1 > best:
            best, span = hi - lo + 1, (times[lo], at)
    return (best, span[0], span[1]) if best >= size and span[0] is not None else None  # type: ignore[return-value]


def _device_of(context: dict[str, Any] | None) -> str | None:
    device = (context or {}).get("device")
    value = device.get("id") if isinstance(device, dict) else None
    return str(value)[:128] if value else None


def report(session: Session, *, now: datetime | None = None, limits: Thresholds = Thresholds()) -> list[Flag]:
    now = now or utcnow()
    since = now - timedelta(days=limits.days)
    window = timedelta(minutes=limits.burst_minutes)
    rows = session.execute(
        select(
            CouponRedemption.contact_id,
            CouponRedemption.device,
            CouponRedemption.status,
            CouponRedemption.reason,
            CouponRedemption.at,
            CouponRedemption.template_id,
        ).where(CouponRedemption.at >= since)
    ).all()
    flags: list[Flag] = []
    device_people: dict[str, set[int]] = defaultdict(set)
    device_times: dict[str, list[datetime]] = defaultdict(list)
    contact_times: dict[int, list[datetime]] = defaultdict(list)
    template_times: dict[int, list[datetime]] = defaultdict(list)
    guesses: dict[str, list[datetime]] = defaultdict(list)
    refunds: dict[int, list[datetime]] = defaultdict(list)
    redeemers: set[int] = set()
    for r in rows:
        won = r.status in ("succeeded", "rolled_back")
        if won and r.contact_id is not None:
            redeemers.add(r.contact_id)
            contact_times[r.contact_id].append(r.at)
            if r.device:
                device_people[r.device].add(r.contact_id)
        if won and r.device:
            device_times[r.device].append(r.at)
        if won and r.template_id is not None:
            template_times[r.template_id].append(r.at)
        if r.status == "rolled_back" and r.contact_id is not None:
            refunds[r.contact_id].append(r.at)
        if r.reason == "not_found":
            guesses[r.device or (f"contact:{r.contact_id}" if r.contact_id else "unknown")].append(r.at)
    seen = 0
    for chunk in chunked(sorted(redeemers), 1_000):
        q = select(Event.contact_id, Event.context).where(
            Event.contact_id.in_(chunk), Event.timestamp >= since, Event.context.is_not(None)
        )
        for cid, context in session.execute(q.limit(MAX_EVENTS - seen)):
            seen += 1
            device = _device_of(context)
            if device:
                device_people[device].add(cid)
        if seen >= MAX_EVENTS:
            break
    for device, people in device_people.items():
        if len(people) >= limits.accounts:
            times = device_times.get(device) or [since]
            flags.append(
                Flag("device", device, "shared_device", len(people), sorted(people), min(times), max(times))
            )
    for device, times in device_times.items():
        if hit := _burst(times, limits.burst, window):
            flags.append(
                Flag("device", device, "device_burst", hit[0], sorted(device_people[device]), hit[1], hit[2])
            )
    for cid, times in contact_times.items():
        if hit := _burst(times, limits.burst, window):
            flags.append(Flag("contact", str(cid), "contact_burst", hit[0], [cid], hit[1], hit[2]))
    keys = (
        dict(session.execute(select(CouponTemplate.id, CouponTemplate.key)).all()) if template_times else {}
    )
    for tid, times in template_times.items():
        if hit := _burst(times, limits.template_burst, window):
            flags.append(
                Flag("template", keys.get(tid, str(tid)), "template_burst", hit[0], [], hit[1], hit[2])
            )
    for who, times in guesses.items():
        if len(times) >= limits.guesses:
            kind, subject = (
                ("contact", who.split(":", 1)[1]) if who.startswith("contact:") else ("device", who)
            )
            people = [int(subject)] if kind == "contact" else sorted(device_people.get(who, ()))
            flags.append(Flag(kind, subject, "guessing", len(times), people, min(times), max(times)))
    for cid, times in refunds.items():
        if len(times) >= limits.refunds:
            flags.append(Flag("contact", str(cid), "refunded", len(times), [cid], min(times), max(times)))
    flags.sort(key=lambda f: (-f.count, f.reason, f.subject))
    return flags
