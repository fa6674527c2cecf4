"""``change_external_chat`` (客户群变更事件), registered by the inflow receiver as
``("change_external_chat", "*") -> "siyu.community.callbacks:handle_change_external_chat"``.

The event is a hint, never the truth: WeCom does not send events for changes made through the
API, may lose them, and may deliver them out of order. Every change type therefore reconciles
the group against ``groupchat/get`` (see ``siyu.community.groups``); the event contributes only
what the API cannot say (how a member left: ``QuitScene``) and ``CurMemVer`` to skip a call when
the change is already applied."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from siyu.community.groups import GroupSync
from siyu.context import AppContext


def handle_change_external_chat(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    chat_id = str(event.get("ChatId") or "").strip()
    if not chat_id:
        raise ValueError("change_external_chat: ChatId is missing")
    sync = GroupSync(session, ctx, provider_key)
    if event.get("ChangeType") == "dismiss":
        group = sync.group(chat_id)
        if group is not None:
            sync.dismiss(group)
        return
    quits: dict[str, int] = {}
    if event.get("UpdateDetail") == "del_member":
        try:
            scene = int(event.get("QuitScene") or 0)
        except (TypeError, ValueError):
            scene = 0
        members = event.get("MemChangeList") or []
        quits = {str(m): scene for m in (members if isinstance(members, list) else [members])}
    sync.reconcile(chat_id, quits=quits, cur_version=str(event.get("CurMemVer") or "") or None)
