"""Campaign definitions: what an operator (a YAML/JSON file, the console's builder, the API)
hands in, checked field by field before anything is stored.

Every problem names its field (``rewards[1].coupon``, ``caps.per_inviter_month``) and all of a
definition's problems are reported at once, so an operator fixes a file in one pass instead of
one error per attempt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

KINDS = ("task", "group", "first_order")
STATUSES = ("draft", "active", "paused", "ended")
SIDES = ("inviter", "invitee", "both")
FRAUD_MODES = ("loose", "strict")
REWARD_KINDS = ("coupon", "points", "gift")
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
MAX_HOLD_DAYS = 90
DEFAULT_VOID_ON_DELETE_HOURS = 24
DEFAULT_TARGET_EVENT = "Order Completed"


class ReferralError(ValueError):
    """A request that cannot be carried out; ``errors`` lists ``(field, reason)`` pairs."""

    def __init__(self, errors: list[tuple[str, str]] | str, reason: str | None = None) -> None:
        if isinstance(errors, str):
            errors = [(errors, reason or "invalid")]
        self.errors = errors
        self.field = errors[0][0]
        super().__init__("; ".join(f"{f}: {r}" for f, r in errors))

    def as_json(self) -> dict[str, Any]:
        return {"errors": [{"field": f, "reason": r} for f, r in self.errors]}


class ReferralNotFound(ReferralError):
    """No campaign, participant or code of that name."""


@dataclass
class CampaignSpec:
    """A checked campaign definition, ready to be written to ``referral_campaigns``."""

    key: str
    name: str
    kind: str
    target: dict[str, Any]
    rewards: list[dict[str, Any]]
    caps: dict[str, int]
    budget: Decimal | None
    hold_days: int
    fraud_mode: str
    fraud_threshold: int
    settings: dict[str, Any]
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def _int(errors: list[tuple[str, str]], name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors.append((name, "must be a whole number"))
        return lo
    try:
        n = int(value)
    except ValueError:
        errors.append((name, f"must be a whole number, got {str(value)[:40]!r}"))
        return lo
    if n < lo or (hi is not None and n > hi):
        errors.append(
            (name, f"must be between {lo} and {hi}" if hi is not None else f"must be at least {lo}")
        )
    return n


def _money(errors: list[tuple[str, str]], name: str, value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        errors.append((name, f"must be an amount in yuan, got {str(value)[:40]!r}"))
        return None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e15"):
        errors.append((name, "must be an amount of 0 yuan or more"))
        return None
    return amount.quantize(Decimal("0.01"))


def _time(errors: list[tuple[str, str]], name: str, value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            errors.append((name, f"cannot read {str(value)[:40]!r} as a time (ISO 8601 with a zone)"))
            return None
    if parsed.tzinfo is None:
        errors.append((name, "needs a time zone (e.g. 2026-06-01T00:00:00+08:00)"))
        return None
    return parsed


def _rewards(errors: list[tuple[str, str]], value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        errors.append(("rewards", "at least one reward: [{invites: 3, coupon: KEY}, …]"))
        return []
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for i, raw in enumerate(value):
        name = f"rewards[{i}]"
        if not isinstance(raw, dict):
            errors.append((name, "must be a mapping such as {invites: 3, coupon: KEY}"))
            continue
        invites = _int(errors, f"{name}.invites", raw.get("invites", 1), 1, 10_000)
        side = str(raw.get("side") or "inviter")
        if side not in SIDES:
            errors.append((f"{name}.side", f"must be one of {', '.join(SIDES)}"))
        kinds = [k for k in REWARD_KINDS if raw.get(k) not in (None, "")]
        if len(kinds) != 1:
            errors.append((name, "exactly one of coupon (a template key), points or gift"))
            continue
        kind = kinds[0]
        reward: dict[str, Any] = {"invites": invites, "side": side}
        if kind == "points":
            reward["points"] = _int(errors, f"{name}.points", raw["points"], 1, 1_000_000)
        else:
            text = str(raw[kind]).strip()
            if not text or len(text) > 120:
                errors.append((f"{name}.{kind}", "1 to 120 characters"))
            reward[kind] = text
        value_yuan = _money(errors, f"{name}.value", raw.get("value"))
        reward["value"] = str(value_yuan or Decimal(0))
        for s in ("inviter", "invitee") if side == "both" else (side,):
            if (invites, s) in seen and s == "inviter":
                errors.append((f"{name}.invites", f"milestone {invites} is given twice"))
            seen.add((invites, s))
        out.append(reward)
    return out


def _target(errors: list[tuple[str, str]], kind: str, value: Any) -> dict[str, Any]:
    target = dict(value) if isinstance(value, dict) else {}
    if value is not None and not isinstance(value, dict):
        errors.append(("target", "must be a mapping"))
    provider = str(target.get("provider") or "wecom")
    if kind == "task":
        staff = target.get("staff")
        if not isinstance(staff, list) or not staff or not all(isinstance(s, str) and s for s in staff):
            errors.append(("target.staff", "the WeCom userids of the staff invitees add (1 to 100)"))
            staff = []
        elif len(staff) > 100:
            errors.append(("target.staff", "at most 100 staff members (WeCom's limit)"))
        return {"provider": provider, "staff": list(staff)}
    if kind == "group":
        chats = target.get("chat_ids")
        if not isinstance(chats, list) or not chats or not all(isinstance(c, str) and c for c in chats):
            errors.append(("target.chat_ids", "the group chat ids invitees join (1 to 5)"))
            chats = []
        elif len(chats) > 5:
            errors.append(("target.chat_ids", "at most 5 groups per live code (WeCom's limit)"))
        return {"provider": provider, "chat_ids": list(chats)}
    event = str(target.get("event") or DEFAULT_TARGET_EVENT).strip()
    if not event or len(event) > 200:
        errors.append(("target.event", "the event that qualifies, 1 to 200 characters"))
    return {"event": event}


def parse_campaign(data: Any) -> CampaignSpec:
    """Check a whole campaign definition (an update is the stored definition with the changes
    laid over it, checked whole: a change can make another field wrong)."""
    if not isinstance(data, dict):
        raise ReferralError("campaign", "must be a mapping of fields")
    errors: list[tuple[str, str]] = []
    known = {
        "key",
        "name",
        "kind",
        "target",
        "rewards",
        "caps",
        "budget",
        "hold_days",
        "fraud_mode",
        "fraud_threshold",
        "settings",
        "starts_at",
        "ends_at",
        "window",
        "window_days",
        "double_sided",
        "void_on_delete_hours",
        "status",
    }
    for extra in sorted(set(data) - known):
        errors.append((str(extra)[:40], "unknown field"))
    key = str(data.get("key") or "").strip()
    if not KEY_PATTERN.match(key):
        errors.append(("key", "1–64 lowercase letters, digits, - or _, starting with a letter or digit"))
    name = str(data.get("name") or key).strip()
    if not name or len(name) > 200:
        errors.append(("name", "1 to 200 characters"))
    kind = str(data.get("kind") or "")
    if kind not in KINDS:
        errors.append(("kind", f"must be one of {', '.join(KINDS)}"))
    window = data.get("window") if isinstance(data.get("window"), dict) else {}
    if data.get("window") is not None and not isinstance(data.get("window"), dict):
        errors.append(("window", "must be a mapping {starts_at, ends_at, days}"))
    starts_at = _time(errors, "starts_at", data.get("starts_at", window.get("starts_at")))
    ends_at = _time(errors, "ends_at", data.get("ends_at", window.get("ends_at")))
    if starts_at and ends_at and ends_at <= starts_at:
        errors.append(("ends_at", "must be after starts_at"))
    settings = dict(data.get("settings") or {}) if isinstance(data.get("settings", {}), dict) else {}
    if not isinstance(data.get("settings", {}), dict):
        errors.append(("settings", "must be a mapping"))
    days = data.get("window_days", window.get("days", settings.get("window_days")))
    if days is not None:
        settings["window_days"] = _int(errors, "window_days", days, 1, 365)
    hours = data.get("void_on_delete_hours", settings.get("void_on_delete_hours"))
    settings["void_on_delete_hours"] = (
        DEFAULT_VOID_ON_DELETE_HOURS if hours is None else _int(errors, "void_on_delete_hours", hours, 0, 720)
    )
    rewards = _rewards(errors, data.get("rewards"))
    settings["double_sided"] = any(r["side"] in ("invitee", "both") for r in rewards)
    if data.get("double_sided") is True and not settings["double_sided"] and rewards:
        errors.append(("double_sided", "a double-sided campaign needs a reward with side invitee or both"))
    caps_in = data.get("caps") or {}
    caps: dict[str, int] = {}
    if not isinstance(caps_in, dict):
        errors.append(("caps", "must be a mapping {per_inviter_month, per_inviter_total}"))
        caps_in = {}
    for cap, val in caps_in.items():
        if cap not in ("per_inviter_month", "per_inviter_total"):
            errors.append((f"caps.{cap}", "unknown cap (per_inviter_month, per_inviter_total)"))
        elif val not in (None, ""):
            caps[cap] = _int(errors, f"caps.{cap}", val, 1, 1_000_000)
    budget = _money(errors, "budget", data.get("budget"))
    hold_days = _int(errors, "hold_days", data.get("hold_days", 7), 0, MAX_HOLD_DAYS)
    fraud_mode = str(data.get("fraud_mode") or "loose")
    if fraud_mode not in FRAUD_MODES:
        errors.append(("fraud_mode", "must be loose (mark) or strict (hold for review)"))
    threshold = _int(errors, "fraud_threshold", data.get("fraud_threshold", 60), 0, 100)
    target = _target(errors, kind, data.get("target")) if kind in KINDS else {}
    if errors:
        raise ReferralError(errors)
    return CampaignSpec(
        key=key,
        name=name,
        kind=kind,
        target=target,
        rewards=rewards,
        caps=caps,
        budget=budget,
        hold_days=hold_days,
        fraud_mode=fraud_mode,
        fraud_threshold=threshold,
        settings=settings,
        starts_at=starts_at,
        ends_at=ends_at,
    )
