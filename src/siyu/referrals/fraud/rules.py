"""Fraud reason codes, their weights and the thresholds the signals use, as named constants.

A referral's score is the sum of its reasons' weights, capped at 100. The weights are chosen so
that one strong reason (the inviter's own device, a ring) passes the default threshold (60)
alone, and weak ones (a shared IP, no activity after the target) only pass together: households
and offices share IPs, and quiet invitees are common, so neither flags an honest referral on its
own. A campaign overrides any threshold in ``settings["fraud"]`` (same names, lower case)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

#: code → (weight, zh label, en label). The labels are what the console and docs show.
REASONS: dict[str, tuple[int, str, str]] = {
    "self_referral": (100, "自己邀请自己（同一客户或已合并）", "Invited themselves (same or merged contact)"),
    "shared_identifier": (
        100,
        "与邀请人共用手机号/邮箱/unionid",
        "Shares a phone, email or unionid with the inviter",
    ),
    "shared_device": (90, "与邀请人使用同一设备", "Same device as the inviter"),
    "shared_payer": (90, "与邀请人使用同一付款人", "Same payer as the inviter"),
    "shared_ip": (30, "与邀请人使用同一 IP", "Same IP address as the inviter"),
    "velocity_burst": (40, "短时间内大量邀请", "Burst of invites in a short time"),
    "burst_new_accounts": (
        30,
        "突发邀请的好友多为新注册账号",
        "The burst's invitees are mostly new accounts",
    ),
    "ring_cycle": (80, "邀请关系成环（互相邀请）", "Invites form a cycle (accounts inviting each other)"),
    "dense_cluster": (60, "新账号之间密集互相邀请", "Dense cluster of new accounts inviting each other"),
    "no_activity": (20, "完成目标后再无任何行为", "No activity after the target"),
    "deleted_staff": (70, "添加后短时间内删除了员工", "Deleted the staff member soon after adding"),
    "device_reuse": (60, "同一设备被多位好友使用", "One device used by several invitees"),
    "ip_reuse": (25, "同一 IP 被大量好友使用", "One IP address used by many invitees"),
}


def weight(code: str) -> int:
    return REASONS[code][0]


def label(code: str, lang: str) -> str:
    """The operator's words for a reason code (zh or en); an unknown code is shown as is."""
    entry = REASONS.get(code)
    if entry is None:
        return code
    return entry[1] if lang.startswith("zh") else entry[2]


@dataclass(frozen=True)
class Thresholds:
    """What counts as suspicious. Defaults suit a campaign of ordinary customers; a KOL campaign
    raises ``burst_count``. Override per campaign in ``settings["fraud"]``."""

    burst_count: int = 10  # invites by one inviter …
    burst_minutes: int = 5  # … within this many minutes is a burst
    new_account_hours: int = 24  # an invitee created this soon before the invite is a new account
    new_account_share: float = 0.5  # a burst is "from new accounts" when this share of it is
    device_reuse: int = 3  # distinct invitees on one device
    ip_reuse: int = 10  # distinct invitees on one IP
    cluster_min: int = 3  # accounts in a dense cluster
    ring_depth: int = 12  # how far up the inviter chain an incremental score looks for a cycle
    no_activity_days: int = 7  # a qualified invitee silent this long after the target
    delete_hours: int = 24  # deleting the staff within this many hours of adding

    @classmethod
    def of(cls, settings: dict[str, Any] | None) -> Thresholds:
        """The campaign's thresholds: defaults, then ``settings["fraud"]`` (bad values ignored,
        so a typo in one setting never disables the others). ``void_on_delete_hours`` sets
        ``delete_hours`` too, as the lifecycle voids on the same window."""
        raw = dict((settings or {}).get("fraud") or {})
        if "delete_hours" not in raw and (settings or {}).get("void_on_delete_hours"):
            raw["delete_hours"] = settings["void_on_delete_hours"]  # type: ignore[index]
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in raw:
                try:
                    value = float(raw[f.name]) if f.type == "float" else int(raw[f.name])
                except (TypeError, ValueError):
                    continue
                if value > 0:
                    values[f.name] = value
        return cls(**values)
