"""Group health: WeCom's daily group statistics, per-group figures, a score, and the alert.

WeCom's ``groupchat/statistic_group_by_day`` reports per *owner* (or corp-wide), never per
group, so it is ingested as is into ``group_daily_stats`` (owner "" = the whole corp) for the
trend charts, and per-group health is computed from siyu's own membership rows and
``Group Message`` events (a message a member sent in a group, with ``chat_id``; see
docs/community.md). Figures over the 7 days up to the evaluation time:

* members now and 7 days ago, joins and leaves (growth = members now − 7 days ago);
* speakers: distinct members with a ``Group Message``; spoke share = speakers / members now;
* silent days: of the last 14 days (Beijing calendar days), those without any group message.

**Score** (0–100) = round(100 × (0.4 × A + 0.3 × R + 0.3 × L)) where
A = min(1, spoke share ÷ 0.30) (a group where 30% spoke this week is fully lively),
R = joins ÷ (joins + leaves) (1 when nobody came or went), L = 1 − silent days ÷ 14.

**Declining**: the score is at least 15 points below the same score computed 7 days earlier,
or leaves exceed joins by 5% of the members of 7 days ago. A declining group emits
``Group Declining`` {provider, chat_id, group, score} for each current member contact, once per
group per ISO week (message id ``group.declining:{group}:{week}:{contact}``), so a journey
can act on the people of the group (a re-engagement message, a task for the owner)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from siyu.channels.wecom_api import WeComApi
from siyu.community.wecom import EC, CommunityError
from siyu.store.changes import emit_events
from siyu.store.models import CustomerGroup, Event, GroupDailyStat, GroupMember, utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_SPAN_DAYS = 30  # statistic_group_by_day: day_begin_time..day_end_time ≤ 30 days
MAX_AGE_DAYS = 180  # and within the last 180 days
STAT_FIELDS = (
    "new_chat_cnt",
    "chat_total",
    "chat_has_msg",
    "new_member_cnt",
    "member_total",
    "member_has_msg",
    "msg_total",
)
LIVELY_SHARE = 0.30
DROP_POINTS = 15
NET_LOSS_SHARE = 0.05
DECLINING = "Group Declining"


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).timestamp())


def ingest_stats(
    session: Session, api: WeComApi, provider_key: str, days: int = 30, today: date | None = None
) -> int:
    """Fetch the last ``days`` (≤ 180) complete days, corp-wide and per owner of a known group,
    in ≤ 30-day calls; upsert ``group_daily_stats``. Returns the rows written."""
    if not 1 <= days <= MAX_AGE_DAYS:
        raise CommunityError(f"days: 1 to {MAX_AGE_DAYS} (WeCom keeps 180 days of group statistics)")
    today = today or datetime.now(SHANGHAI).date()
    known = session.scalars(
        select(CustomerGroup.owner_userid).where(CustomerGroup.provider_key == provider_key).distinct()
    )
    owners = ["", *sorted(o for o in known if o)]
    first, last = today - timedelta(days=days), today - timedelta(days=1)
    written = 0
    for owner in owners:
        begin = first
        while begin <= last:
            end = min(begin + timedelta(days=MAX_SPAN_DAYS - 1), last)
            body: dict[str, Any] = {"day_begin_time": _midnight(begin), "day_end_time": _midnight(end)}
            if owner:
                body["owner_filter"] = {"userid_list": [owner]}
            for item in api.call("POST", f"{EC}/groupchat/statistic_group_by_day", body).get("items") or []:
                day = datetime.fromtimestamp(int(item["stat_time"]), SHANGHAI).date()
                written += _upsert(session, provider_key, owner, day, item.get("data") or {})
            begin = end + timedelta(days=1)
    return written


def _upsert(session: Session, provider_key: str, owner: str, day: date, data: dict[str, Any]) -> int:
    row = session.scalar(
        select(GroupDailyStat).where(
            GroupDailyStat.provider_key == provider_key,
            GroupDailyStat.owner_userid == owner,
            GroupDailyStat.day == day,
        )
    )
    if row is None:
        row = GroupDailyStat(provider_key=provider_key, owner_userid=owner, day=day)
        session.add(row)
    for name in STAT_FIELDS:
        setattr(row, name, int(data.get(name) or 0))
    return 1


def _in_chat(chat_id: str) -> Any:
    """The event's ``chat_id`` property is this group's (JSON extraction on both databases)."""
    return Event.properties["chat_id"].as_string() == chat_id


def _members_at(session: Session, group_id: int, at: datetime) -> int:
    return int(
        session.scalar(
            select(func.count(GroupMember.id)).where(
                GroupMember.group_id == group_id,
                GroupMember.member_type == 2,
                or_(GroupMember.joined_at.is_(None), GroupMember.joined_at <= at),
                or_(GroupMember.left_at.is_(None), GroupMember.left_at > at),
            )
        )
        or 0
    )


def figures(session: Session, group: CustomerGroup, as_of: datetime | None = None) -> dict[str, Any]:
    """The group's health figures and score at ``as_of`` (see the module docstring)."""
    now = as_of or utcnow()
    week = now - timedelta(days=7)
    members = _members_at(session, group.id, now)
    before = _members_at(session, group.id, week)
    base = select(func.count(GroupMember.id)).where(
        GroupMember.group_id == group.id, GroupMember.member_type == 2
    )
    joins = int(session.scalar(base.where(GroupMember.joined_at > week, GroupMember.joined_at <= now)) or 0)
    leaves = int(session.scalar(base.where(GroupMember.left_at > week, GroupMember.left_at <= now)) or 0)
    speakers: set[int] = set()
    message_days: set[date] = set()
    start = now - timedelta(days=14)
    for cid, ts in session.execute(
        select(Event.contact_id, Event.timestamp).where(
            Event.event == "Group Message",
            Event.timestamp > start,
            Event.timestamp <= now,
            _in_chat(group.chat_id),
        )
    ):
        message_days.add(ts.astimezone(SHANGHAI).date())
        if ts > week:
            speakers.add(cid)
    today = now.astimezone(SHANGHAI).date()
    silent = sum(1 for i in range(14) if today - timedelta(days=i) not in message_days)
    share = len(speakers) / members if members else 0.0
    a = min(1.0, share / LIVELY_SHARE)
    r = joins / (joins + leaves) if joins + leaves else 1.0
    quiet = 1 - silent / 14
    return {
        "members": members,
        "members_7d_ago": before,
        "growth_7d": members - before,
        "joins_7d": joins,
        "leaves_7d": leaves,
        "speakers_7d": len(speakers),
        "spoke_share_7d": round(share, 4),
        "silent_days_14d": silent,
        "score": round(100 * (0.4 * a + 0.3 * r + 0.3 * quiet)),
    }


def series(
    session: Session, group: CustomerGroup, days: int = 30, as_of: datetime | None = None
) -> list[dict[str, Any]]:
    """Per Beijing day: members at the end of the day and group messages (the health chart)."""
    now = as_of or utcnow()
    today = now.astimezone(SHANGHAI).date()
    counts: dict[date, int] = {}
    start = now - timedelta(days=days)
    for (ts,) in session.execute(
        select(Event.timestamp).where(
            Event.event == "Group Message",
            Event.timestamp > start,
            Event.timestamp <= now,
            _in_chat(group.chat_id),
        )
    ):
        d = ts.astimezone(SHANGHAI).date()
        counts[d] = counts.get(d, 0) + 1
    out = []
    for i in range(days - 1, -1, -1):
        d = today - timedelta(days=i)
        end = datetime(d.year, d.month, d.day, tzinfo=SHANGHAI) + timedelta(days=1)
        out.append(
            {
                "day": d.isoformat(),
                "members": _members_at(session, group.id, min(end, now)),
                "messages": counts.get(d, 0),
            }
        )
    return out


def check_declining(session: Session, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """Score every open group now and 7 days earlier; emit ``Group Declining`` for the declining."""
    now = as_of or utcnow()
    year, week, _ = now.astimezone(SHANGHAI).isocalendar()
    week_key = f"{year}-W{week:02d}"
    alerts = []
    for group in session.scalars(select(CustomerGroup).where(CustomerGroup.dismissed_at.is_(None))).all():
        current = figures(session, group, now)
        earlier = figures(session, group, now - timedelta(days=7))
        net_loss = current["leaves_7d"] - current["joins_7d"]
        dropped = current["score"] <= earlier["score"] - DROP_POINTS
        if not (dropped or (net_loss > 0 and net_loss >= NET_LOSS_SHARE * max(current["members_7d_ago"], 1))):
            continue
        props = {
            "provider": group.provider_key,
            "chat_id": group.chat_id,
            "group": group.name,
            "score": current["score"],
        }
        contacts = session.scalars(
            select(GroupMember.contact_id).where(
                GroupMember.group_id == group.id,
                GroupMember.left_at.is_(None),
                GroupMember.contact_id.is_not(None),
            )
        ).all()
        emit_events(
            session,
            DECLINING,
            [(f"group.declining:{group.id}:{week_key}:{cid:012d}", cid, props) for cid in contacts],
            now,
        )
        alerts.append(props | {"was": earlier["score"], "members": len(contacts)})
    return alerts
