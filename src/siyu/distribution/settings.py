"""The brand's distribution settings and their validation.

At most two paid levels, and level-1 + level-2 ≤ 100% of the order: relationship-chain
multi-level distribution has been banned on WeChat since 2015, and three or more paid levels
is the legal test for 传销 (pyramid selling) in China. A rate sum above 100% is refused with
the field named, and there is no setting for a third level at all.

One row, created with its defaults (distribution off) on first use, so every path (an order,
the console, the CLI) sees the same settings without a setup step."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.store.models import DistributionSettings, utcnow

MODES = ("appointed", "everyone")
BINDINGS = ("new_users", "anyone")
MAX_FREEZE_DAYS = 180
MAX_LOCK_DAYS = 3650
#: What ``update_settings`` accepts, in the order the console shows them.
FIELDS = (
    "enabled",
    "mode",
    "auto_threshold",
    "levels",
    "level1_rate",
    "level2_rate",
    "self_purchase",
    "freeze_days",
    "binding",
    "lock_days",
    "min_withdrawal",
    "sharing_ratio",
)


class DistributionError(ValueError):
    """A refused distribution request; ``code`` is stable (snake_case), ``field`` names what was
    wrong (a settings field, ``contact``, ``code``, ``promoter``)."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


class DistributionNotFound(DistributionError):
    """The promoter, code or order asked for does not exist."""


def get_settings(session: Session) -> DistributionSettings:
    row = session.scalar(select(DistributionSettings).order_by(DistributionSettings.id).limit(1))
    if row is None:
        row = DistributionSettings(
            enabled=False,
            mode="appointed",
            auto_threshold=None,
            levels=2,
            level1_rate=Decimal("0.10"),
            level2_rate=Decimal("0.05"),
            self_purchase=False,
            freeze_days=7,
            binding="new_users",
            lock_days=30,
            min_withdrawal=Decimal("1.00"),
            sharing_ratio=Decimal("0.30"),
        )
        session.add(row)
        session.flush()
    return row


def _rate(value: Decimal) -> str:
    """Four places, as stored (the same text before and after a reload)."""
    return str(Decimal(value).quantize(Decimal("0.0001")))


def settings_dict(row: DistributionSettings) -> dict[str, Any]:
    """Plain data: money and rates as decimal strings (never floats)."""
    return {
        "enabled": row.enabled,
        "mode": row.mode,
        "auto_threshold": None
        if row.auto_threshold is None
        else str(Decimal(row.auto_threshold).quantize(Decimal("0.01"))),
        "levels": row.levels,
        "level1_rate": _rate(row.level1_rate),
        "level2_rate": _rate(row.level2_rate),
        "self_purchase": row.self_purchase,
        "freeze_days": row.freeze_days,
        "binding": row.binding,
        "lock_days": row.lock_days,
        "min_withdrawal": str(Decimal(row.min_withdrawal).quantize(Decimal("0.01"))),
        "sharing_ratio": _rate(row.sharing_ratio),
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def _bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise DistributionError("not_a_boolean", f"{field}: expected true or false, got {value!r}", field=field)


def _int(field: str, value: Any, low: int, high: int) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise DistributionError(
            "not_a_number", f"{field}: expected a whole number, got {value!r}", field=field
        ) from None
    if not low <= n <= high:
        raise DistributionError("out_of_range", f"{field}: must be {low} to {high}, got {n}", field=field)
    return n


def _decimal(field: str, value: Any, high: Decimal | None = None) -> Decimal:
    try:
        d = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        raise DistributionError(
            "not_a_number", f"{field}: expected a number, got {value!r}", field=field
        ) from None
    if str(value).strip().endswith("%"):
        d = d / 100
    if not d.is_finite() or d < 0 or (high is not None and d > high):
        top = "" if high is None else f" to {high}"
        raise DistributionError("out_of_range", f"{field}: must be 0{top}, got {value!r}", field=field)
    return d


def parse_rate(field: str, value: Any) -> Decimal:
    """A rate as a fraction: ``0.1``, ``"10%"``; at most 4 decimal places (0.01%)."""
    d = _decimal(field, value, Decimal(1))
    if d != d.quantize(Decimal("0.0001")):
        raise DistributionError(
            "too_precise", f"{field}: at most 0.01% precision, got {value!r}", field=field
        )
    return d


def validate(changes: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The changes checked and typed; every field is checked before any applies."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise DistributionError(
            "unknown_field", f"{unknown[0]}: not a distribution setting", field=unknown[0]
        )
    out: dict[str, Any] = {}
    for field, value in changes.items():
        if field in ("enabled", "self_purchase"):
            out[field] = _bool(field, value)
        elif field == "mode":
            if value not in MODES:
                raise DistributionError(
                    "invalid_choice", f"mode: expected one of {', '.join(MODES)}", field=field
                )
            out[field] = value
        elif field == "binding":
            if value not in BINDINGS:
                raise DistributionError(
                    "invalid_choice", f"binding: expected one of {', '.join(BINDINGS)}", field=field
                )
            out[field] = value
        elif field == "auto_threshold":
            out[field] = None if value in (None, "") else _decimal(field, value).quantize(Decimal("0.01"))
        elif field == "levels":
            # no third level: three or more paid levels is the legal test for 传销
            out[field] = _int(field, value, 1, 2)
        elif field in ("level1_rate", "level2_rate", "sharing_ratio"):
            out[field] = parse_rate(field, value)
        elif field == "freeze_days":
            out[field] = _int(field, value, 0, MAX_FREEZE_DAYS)
        elif field == "lock_days":
            out[field] = _int(field, value, 0, MAX_LOCK_DAYS)
        elif field == "min_withdrawal":
            out[field] = _decimal(field, value).quantize(Decimal("0.01"))
    merged = {**current, **out}
    l1, l2 = Decimal(str(merged["level1_rate"])), Decimal(str(merged["level2_rate"]))
    if l1 + l2 > 1:
        field = "level2_rate" if "level2_rate" in out else "level1_rate"
        raise DistributionError(
            "rates_above_100",
            f"{field}: level-1 + level-2 rates must be at most 100% of the order "
            f"(got {l1 * 100:.2f}% + {l2 * 100:.2f}%)",
            field=field,
        )
    return out


def update_settings(session: Session, changes: dict[str, Any], actor: str) -> DistributionSettings:
    row = get_settings(session)
    typed = validate(changes, settings_dict(row))
    for field, value in typed.items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    audit.record(
        session,
        actor,
        "distribution.settings_changed",
        "distribution",
        row.id,
        {k: str(v) for k, v in typed.items()},
    )
    session.flush()
    return row
