"""Group bulk messages and group welcome templates.

A group message is ``add_msg_template`` with ``chat_type: group``: one task per *sender*, and
WeCom only delivers to groups the sender owns, so groups are batched by owner, at most 2,000
chat ids per call. The staff member confirms the task in WeCom (as for 1:1 messages).

**Monthly limit.** Each customer group receives at most as many bulk messages per calendar
month as the month has days (Beijing calendar). siyu counts its own sends per group in
``group_message_sends`` and leaves out groups at the limit before calling (reported as
``limited``); sends made outside siyu still count at WeCom, whose result (status 3) the receipt
poller reports.

**Welcome templates** (``group_welcome_template/add|edit|get|del``, ≤ 100 per corp, text ≤ 3,000
bytes, ``%NICKNAME%`` replaced by WeCom): WeCom sends them itself when someone joins a group that
uses the template, so siyu manages them and does not send per member."""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.channels.wecom_api import ContentError, WeComApi, message_body
from siyu.community.wecom import EC, CommunityError, api_for
from siyu.context import AppContext
from siyu.store.models import CustomerGroup, GroupMessageSend, utcnow

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_CHAT_IDS = 2000
MAX_WELCOME_BYTES = 3000


def month_of(at: datetime) -> tuple[str, int]:
    """The Beijing month ``YYYY-MM`` of ``at`` and its number of days (the monthly limit)."""
    local = at.astimezone(SHANGHAI)
    return local.strftime("%Y-%m"), calendar.monthrange(local.year, local.month)[1]


class GroupMessenger:
    def __init__(
        self, session: Session, ctx: AppContext, provider_key: str, api: WeComApi | None = None
    ) -> None:
        self.session, self.provider = session, provider_key
        self.api = api or api_for(session, ctx, provider_key)

    def sent_this_month(self, group_ids: list[int], at: datetime | None = None) -> dict[int, int]:
        month, _ = month_of(at or utcnow())
        rows = self.session.execute(
            select(GroupMessageSend.group_id, func.count())
            .where(GroupMessageSend.group_id.in_(group_ids), GroupMessageSend.month == month)
            .group_by(GroupMessageSend.group_id)
        ).all()
        return {int(g): int(n) for g, n in rows}

    def send(
        self,
        content: dict[str, Any],
        chat_ids: list[str] | None = None,
        source: str = "manual",
        actor: str = "system",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        try:
            body = message_body(content)
        except ContentError as exc:
            raise CommunityError(f"content.{exc}") from None
        stmt = select(CustomerGroup).where(
            CustomerGroup.provider_key == self.provider, CustomerGroup.dismissed_at.is_(None)
        )
        if chat_ids is not None:
            if not chat_ids:
                raise CommunityError("chat_ids: empty; omit it to send to every group")
            stmt = stmt.where(CustomerGroup.chat_id.in_(sorted(set(chat_ids))))
        groups = list(self.session.scalars(stmt.order_by(CustomerGroup.id)))
        unknown = sorted(set(chat_ids or []) - {g.chat_id for g in groups})
        now = at or utcnow()
        month, limit = month_of(now)
        counts = self.sent_this_month([g.id for g in groups], now)
        limited = [g.chat_id for g in groups if counts.get(g.id, 0) >= limit]
        by_owner: dict[str, list[CustomerGroup]] = {}
        for g in groups:
            if counts.get(g.id, 0) < limit and g.owner_userid:
                by_owner.setdefault(g.owner_userid, []).append(g)
        tasks = []
        for owner, owned in sorted(by_owner.items()):
            for i in range(0, len(owned), MAX_CHAT_IDS):
                chunk = owned[i : i + MAX_CHAT_IDS]
                req = {
                    "chat_type": "group",
                    "sender": owner,
                    "chat_id_list": [g.chat_id for g in chunk],
                } | body
                data = self.api.call("POST", f"{EC}/add_msg_template", req, creates=True)
                msgid = str(data.get("msgid") or "")
                failed = set(data.get("fail_list") or [])
                sent = [g for g in chunk if g.chat_id not in failed]
                self.session.add_all(
                    [
                        GroupMessageSend(group_id=g.id, msgid=msgid, month=month, source=source, sent_at=now)
                        for g in sent
                    ]
                )
                tasks.append({"msgid": msgid, "sender": owner, "groups": len(sent), "failed": sorted(failed)})
        self.session.flush()
        result = {
            "tasks": tasks,
            "groups": sum(t["groups"] for t in tasks),
            "limited": limited,
            "unknown": unknown,
            "month": month,
            "limit": limit,
        }
        audit.record(
            self.session,
            actor,
            "group_message.sent",
            "customer_group",
            None,
            {"groups": result["groups"], "source": source},
        )
        return result


class WelcomeTemplates:
    def __init__(self, session: Session, ctx: AppContext, provider_key: str) -> None:
        self.api = api_for(session, ctx, provider_key)

    @staticmethod
    def _body(text: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        if len(text.encode()) > MAX_WELCOME_BYTES:
            raise CommunityError(f"text: {len(text.encode())} bytes; WeCom allows {MAX_WELCOME_BYTES}")
        if not text and not extra:
            raise CommunityError("text: a welcome template needs text or an attachment")
        return ({"text": {"content": text}} if text else {}) | (extra or {})

    def add(self, text: str, extra: dict[str, Any] | None = None) -> str:
        body = self._body(text, extra)
        return str(
            self.api.call("POST", f"{EC}/group_welcome_template/add", body, creates=True)["template_id"]
        )

    def edit(self, template_id: str, text: str, extra: dict[str, Any] | None = None) -> None:
        self.api.call(
            "POST",
            f"{EC}/group_welcome_template/edit",
            {"template_id": template_id} | self._body(text, extra),
        )

    def get(self, template_id: str) -> dict[str, Any]:
        data = self.api.call("POST", f"{EC}/group_welcome_template/get", {"template_id": template_id})
        return {k: v for k, v in data.items() if k not in ("errcode", "errmsg")}

    def delete(self, template_id: str) -> None:
        self.api.call("POST", f"{EC}/group_welcome_template/del", {"template_id": template_id})
