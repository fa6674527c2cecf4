"""Turnover (在职继承): hand customers from one staff member to another with
``transfer_customer`` (94081) and follow the outcome with ``transfer_result`` (94088).

WeCom's rules, checked before calling so an operator gets the reason in words:

* at most 100 customers per call (siyu splits a longer list);
* a customer can be transferred at most twice in 90 days: a third request is refused here,
  naming the earlier two (WeCom would answer 40128 for that customer).

A transfer WeCom accepts is ``waiting`` (the customer has 24 hours to object); ``poll`` records
``success`` (the relation moves to the new staff member: the old follow ends with
``deleted_by`` ``transfer`` and the new one opens, keeping the state and tags), ``refused`` (the
customer objected) or ``failed`` (the new staff member's customer limit, or no record)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.channels.wecom_api import WeComApi, WeComError
from siyu.store.models import ContactFollow, WeComTransfer, utcnow
from siyu.wecom.provider import EC, ERRCODE_WORDS, in_words

PER_CALL = 100
WINDOW = timedelta(days=90)
PER_WINDOW = 2
#: transfer_result status → our status and reason.
RESULT_STATUS: dict[int, tuple[str, str | None]] = {
    1: ("success", None),
    2: ("waiting", None),
    3: ("refused", "the customer refused the transfer"),
    4: ("failed", "the new staff member has reached their customer limit"),
    5: ("failed", "WeCom has no record of this transfer"),
}


class TransferError(ValueError):
    pass


def describe(t: WeComTransfer) -> dict[str, Any]:
    return {
        "id": t.id,
        "provider_key": t.provider_key,
        "handover_userid": t.handover_userid,
        "takeover_userid": t.takeover_userid,
        "external_userid": t.external_userid,
        "contact_id": t.contact_id,
        "status": t.status,
        "errcode": t.errcode,
        "reason": t.reason,
        "requested_at": t.requested_at.isoformat() if t.requested_at else None,
        "takeover_at": t.takeover_at.isoformat() if t.takeover_at else None,
    }


def _recent(session: Session, provider_key: str, external_userid: str, now: datetime) -> list[WeComTransfer]:
    return list(
        session.scalars(
            select(WeComTransfer).where(
                WeComTransfer.provider_key == provider_key,
                WeComTransfer.external_userid == external_userid,
                WeComTransfer.status.in_(("waiting", "success")),
                WeComTransfer.requested_at > now - WINDOW,
            )
        )
    )


def transfer(
    session: Session,
    api: WeComApi,
    provider_key: str,
    handover: str,
    takeover: str,
    external_userids: list[str],
    message: str | None = None,
    actor: str = "system",
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Request the transfers; one recorded row per customer (refused ones too)."""
    if not handover or not takeover:
        raise TransferError("handover_userid and takeover_userid are required")
    if handover == takeover:
        raise TransferError("takeover_userid: the same staff member as handover_userid")
    externals = list(dict.fromkeys(e.strip() for e in external_userids if e and e.strip()))
    if not externals:
        raise TransferError("external_userid: name at least one customer")
    now = now or utcnow()
    rows: list[WeComTransfer] = []
    allowed: list[str] = []
    for ext in externals:
        follow = session.scalar(
            select(ContactFollow).where(
                ContactFollow.provider_key == provider_key,
                ContactFollow.staff_userid == handover,
                ContactFollow.external_userid == ext,
            )
        )
        row = WeComTransfer(
            provider_key=provider_key,
            handover_userid=handover,
            takeover_userid=takeover,
            external_userid=ext,
            contact_id=follow.contact_id if follow else None,
            requested_at=now,
        )
        recent = _recent(session, provider_key, ext, now)
        if len(recent) >= PER_WINDOW:
            dates = ", ".join(sorted(_utc(r.requested_at).date().isoformat() for r in recent))
            row.status, row.errcode = "failed", 40128
            row.reason = f"moved {len(recent)} times in the last 90 days ({dates}); WeCom allows {PER_WINDOW}"
        else:
            allowed.append(ext)
        rows.append(row)
    by_ext = {r.external_userid: r for r in rows}
    for start in range(0, len(allowed), PER_CALL):
        chunk = allowed[start : start + PER_CALL]
        body: dict[str, Any] = {
            "handover_userid": handover,
            "takeover_userid": takeover,
            "external_userid": chunk,
        }
        if message:
            body["transfer_success_msg"] = message[:200]
        try:
            data = api.call("POST", f"{EC}/transfer_customer", body, creates=True)
        except WeComError as exc:
            for ext in chunk:
                by_ext[ext].status, by_ext[ext].errcode, by_ext[ext].reason = (
                    "failed",
                    exc.errcode,
                    in_words(exc),
                )
            continue
        answers = {
            str(a.get("external_userid")): int(a.get("errcode", 0)) for a in data.get("customer") or []
        }
        for ext in chunk:
            code = answers.get(ext, 0)
            if code:
                by_ext[ext].status, by_ext[ext].errcode = "failed", code
                by_ext[ext].reason = ERRCODE_WORDS.get(code, f"errcode {code}")
    session.add_all(rows)
    session.flush()
    audit.record(
        session,
        actor,
        "wecom.transfer_requested",
        "staff",
        handover,
        {"takeover": takeover, "customers": len(rows), "accepted": sum(r.status == "waiting" for r in rows)},
    )
    return [describe(r) for r in rows]


def poll(session: Session, api: WeComApi, provider_key: str) -> dict[str, int]:
    """Ask ``transfer_result`` about every waiting transfer; record the outcomes."""
    waiting = list(
        session.scalars(
            select(WeComTransfer).where(
                WeComTransfer.provider_key == provider_key, WeComTransfer.status == "waiting"
            )
        )
    )
    pairs: dict[tuple[str, str], dict[str, WeComTransfer]] = {}
    for t in waiting:
        pairs.setdefault((t.handover_userid, t.takeover_userid), {})[t.external_userid] = t
    counts = {"checked": 0, "success": 0, "refused": 0, "failed": 0, "waiting": 0}
    now = utcnow()
    for (handover, takeover), open_ in pairs.items():
        try:
            results = api.pages(
                f"{EC}/transfer_result",
                {"handover_userid": handover, "takeover_userid": takeover},
                "customer",
            )
        except WeComError as exc:
            raise TransferError(in_words(exc)) from exc
        for r in results:
            t = open_.get(str(r.get("external_userid")))
            if t is None:
                continue
            status, reason = RESULT_STATUS.get(int(r.get("status") or 0), ("waiting", None))
            counts["checked"] += 1
            counts[status] += 1
            t.checked_at = now
            if status == "waiting":
                continue
            t.status, t.reason = status, reason
            if status == "success":
                ts = int(r.get("takeover_time") or 0)
                t.takeover_at = datetime.fromtimestamp(ts, UTC) if ts else now
                _move_follow(session, t)
    session.flush()
    return counts


def _move_follow(session: Session, t: WeComTransfer) -> None:
    old = session.scalar(
        select(ContactFollow).where(
            ContactFollow.provider_key == t.provider_key,
            ContactFollow.staff_userid == t.handover_userid,
            ContactFollow.external_userid == t.external_userid,
        )
    )
    if old is None:
        return
    if old.deleted_at is None:
        old.deleted_at, old.deleted_by = t.takeover_at, "transfer"
    new = session.scalar(
        select(ContactFollow).where(
            ContactFollow.provider_key == t.provider_key,
            ContactFollow.staff_userid == t.takeover_userid,
            ContactFollow.external_userid == t.external_userid,
        )
    )
    if new is None:
        new = ContactFollow(
            contact_id=old.contact_id,
            provider_key=t.provider_key,
            staff_userid=t.takeover_userid,
            external_userid=t.external_userid,
            state=old.state,
            corp_tags=list(old.corp_tags or []),
            remark=old.remark,
        )
        session.add(new)
    new.added_at, new.deleted_at, new.deleted_by = t.takeover_at, None, None
    new.add_way = 201  # WeCom's add_way for 内部成员共享/分配 (a relation handed over)


def transfers(
    session: Session, provider_key: str | None = None, userid: str | None = None
) -> list[dict[str, Any]]:
    q = select(WeComTransfer).order_by(WeComTransfer.id.desc())
    if provider_key:
        q = q.where(WeComTransfer.provider_key == provider_key)
    if userid:
        q = q.where((WeComTransfer.handover_userid == userid) | (WeComTransfer.takeover_userid == userid))
    return [describe(t) for t in session.scalars(q.limit(1000))]


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
