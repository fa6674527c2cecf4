"""The brand's loyalty programme: its settings, how long points stay valid, and their validation.

One programme per brand (the first row of ``loyalty_programmes``), created with defaults on
first use so every path (an order, the console, the CLI) sees the same settings without a
setup step. Validity strings follow Talon.One: ``30D``, ``12M``, ``1Y``, ``end_of_next_year``
(31 December of the next year, end of day in the brand's time zone) or ``never``.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.store.models import LoyaltyProgramme, utcnow

_VALIDITY = re.compile(r"^([1-9][0-9]{0,3})([DMY])$")
EARNING_SOURCES = ("order", "signup", "birthday", "checkin", "task", "journey", "referral", "manual")
TIER_BASES = ("points", "spend")
DOWNGRADE_POLICIES = ("one_down", "reevaluate")
#: Far below Integer's limit: a points figure times a multiplier must still fit a 32-bit column.
MAX_POINTS = 100_000_000


class LoyaltyError(ValueError):
    """A refused loyalty request; ``code`` is stable (snake_case), ``field`` names what was wrong."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


class LoyaltyNotFound(LoyaltyError):
    """The tier, member or entry asked for does not exist."""


def get_programme(session: Session) -> LoyaltyProgramme:
    """The programme, created with its defaults on first use."""
    prog = session.scalar(select(LoyaltyProgramme).order_by(LoyaltyProgramme.id).limit(1))
    if prog is None:
        prog = LoyaltyProgramme(
            name="会员积分",
            point_value=Decimal("0.01"),
            earn_per_yuan=Decimal(1),
            signup_points=0,
            birthday_points=0,
            pending_days=7,
            default_validity="end_of_next_year",
            validity_by_source={},
            allow_negative=False,
            expiry_notice_days=30,
            tier_basis="points",
            tier_window_days=365,
            tier_period_days=365,
            downgrade_policy="one_down",
            member_no_prefix="M",
            checkin={},
            settings={},
            updated_at=utcnow(),
        )
        session.add(prog)
        session.flush()
    return prog


def check_validity(value: object, field: str = "default_validity") -> str:
    """A validity string, normalised (``30d`` → ``30D``); LoyaltyError when it is none."""
    text = str(value or "").strip()
    if text.lower() in ("end_of_next_year", "never"):
        return text.lower()
    m = _VALIDITY.match(text.upper())
    if not m:
        raise LoyaltyError(
            "invalid_validity",
            f"{field}: {text!r} is not a validity; use e.g. 30D, 12M, 1Y, end_of_next_year or never",
            field=field,
        )
    return m.group(1) + m.group(2)


def _add_months(at: datetime, months: int) -> datetime:
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def expiry_for(validity: str, start: datetime, tz: str) -> datetime | None:
    """When points that become usable at ``start`` expire under ``validity`` (None: never).
    Months and years are calendar months in the brand's time zone, so ``1Y`` from 29 February
    is 28 February and a Beijing award made at 01:00 does not lose a day to UTC."""
    if validity == "never":
        return None
    zone = ZoneInfo(tz)
    local = start.astimezone(zone)
    if validity == "end_of_next_year":
        end = datetime(local.year + 2, 1, 1, tzinfo=zone)
        return end.astimezone(ZoneInfo("UTC")) - timedelta(microseconds=1)
    n, unit = int(validity[:-1]), validity[-1]
    if unit == "D":
        return start + timedelta(days=n)
    months = n if unit == "M" else 12 * n
    return _add_months(local, months).astimezone(ZoneInfo("UTC"))


def validity_for_source(prog: LoyaltyProgramme, source: str) -> str:
    return str((prog.validity_by_source or {}).get(source) or prog.default_validity)


def _int(value: object, field: str, lo: int, hi: int) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        n = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise LoyaltyError(
            "invalid_setting", f"{field}: {value!r} is not a whole number", field=field
        ) from None
    if not lo <= n <= hi:
        raise LoyaltyError("invalid_setting", f"{field}: {n} is outside {lo}–{hi}", field=field)
    return n


def _decimal(value: object, field: str, lo: Decimal, hi: Decimal) -> Decimal:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise LoyaltyError("invalid_setting", f"{field}: {value!r} is not a number", field=field) from None
    if not d.is_finite() or not lo <= d <= hi:
        raise LoyaltyError("invalid_setting", f"{field}: {value} is outside {lo}–{hi}", field=field)
    return d


def _bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise LoyaltyError("invalid_setting", f"{field}: {value!r} is not true or false", field=field)


def _choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    text = str(value).strip()
    if text not in choices:
        raise LoyaltyError(
            "invalid_setting", f"{field}: {text!r} is not one of {', '.join(choices)}", field=field
        )
    return text


def _by_source(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise LoyaltyError(
            "invalid_setting", "validity_by_source: should be an object", field="validity_by_source"
        )
    out: dict[str, str] = {}
    for key, v in value.items():
        if key not in EARNING_SOURCES:
            raise LoyaltyError(
                "invalid_setting",
                f"validity_by_source.{key}: unknown earning source; one of {', '.join(EARNING_SOURCES)}",
                field=f"validity_by_source.{key}",
            )
        if v in (None, ""):
            continue
        out[key] = check_validity(v, f"validity_by_source.{key}")
    return out


def _prefix(value: object) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9]{0,8}", text):
        raise LoyaltyError(
            "invalid_setting", "member_no_prefix: up to 8 letters or digits", field="member_no_prefix"
        )
    return text


def _name(value: object) -> str:
    text = str(value).strip()
    if not 1 <= len(text) <= 200:
        raise LoyaltyError("invalid_setting", "name: 1–200 characters", field="name")
    return text


#: field → how a new value is checked (and normalised).
CHECKS: dict[str, Any] = {
    "name": _name,
    "point_value": lambda v: _decimal(v, "point_value", Decimal(0), Decimal(1000)),
    "earn_per_yuan": lambda v: _decimal(v, "earn_per_yuan", Decimal(0), Decimal(1000)),
    "signup_points": lambda v: _int(v, "signup_points", 0, MAX_POINTS),
    "birthday_points": lambda v: _int(v, "birthday_points", 0, MAX_POINTS),
    "pending_days": lambda v: _int(v, "pending_days", 0, 365),
    "default_validity": lambda v: check_validity(v, "default_validity"),
    "validity_by_source": _by_source,
    "allow_negative": lambda v: _bool(v, "allow_negative"),
    "expiry_notice_days": lambda v: _int(v, "expiry_notice_days", 0, 365),
    "tier_basis": lambda v: _choice(v, "tier_basis", TIER_BASES),
    "tier_window_days": lambda v: _int(v, "tier_window_days", 1, 3660),
    "tier_period_days": lambda v: _int(v, "tier_period_days", 1, 3660),
    "downgrade_policy": lambda v: _choice(v, "downgrade_policy", DOWNGRADE_POLICIES),
    "member_no_prefix": _prefix,
}


def update_programme(session: Session, changes: dict[str, Any], *, actor: str = "system") -> LoyaltyProgramme:
    """Change settings. Every field is checked before any is applied, so a bad value changes
    nothing; the error names the field."""
    prog = get_programme(session)
    checked: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in CHECKS:
            raise LoyaltyError("unknown_setting", f"{key}: not a programme setting", field=key)
        checked[key] = CHECKS[key](value)
    for key, value in checked.items():
        setattr(prog, key, value)
    prog.updated_at = utcnow()
    session.flush()
    if checked:
        audit.record(
            session,
            actor,
            "loyalty.programme.updated",
            "loyalty_programme",
            prog.id,
            {k: str(v) if isinstance(v, Decimal) else v for k, v in checked.items()},
        )
    return prog


def plain_decimal(value: Decimal) -> str:
    """``2.0000`` → ``2``, ``0.0100`` → ``0.01`` (never exponent notation)."""
    return f"{Decimal(value).normalize():f}"


def programme_dict(prog: LoyaltyProgramme) -> dict[str, Any]:
    """The settings as plain JSON values (money and rates as strings, never floats)."""
    return {
        "name": prog.name,
        "point_value": plain_decimal(prog.point_value),
        "earn_per_yuan": plain_decimal(prog.earn_per_yuan),
        "signup_points": prog.signup_points,
        "birthday_points": prog.birthday_points,
        "pending_days": prog.pending_days,
        "default_validity": prog.default_validity,
        "validity_by_source": dict(prog.validity_by_source or {}),
        "allow_negative": prog.allow_negative,
        "expiry_notice_days": prog.expiry_notice_days,
        "tier_basis": prog.tier_basis,
        "tier_window_days": prog.tier_window_days,
        "tier_period_days": prog.tier_period_days,
        "downgrade_policy": prog.downgrade_policy,
        "member_no_prefix": prog.member_no_prefix,
    }
