"""Customer events from WeCom (``Event=change_external_contact``): a customer added, edited,
deleted by the staff member, or deleting the staff member (流失), and failed transfers.

Each handler runs inside the inbox's processing transaction (it never commits) and is safe to
run again: follows upsert by their natural key, events carry message ids derived from the
callback, and a repeated welcome is refused by WeCom itself (41096, the code is used once).

Events are stamped when processed, not with WeCom's ``CreateTime`` (seconds, and possibly
minutes old after a sweep): journeys enrol on events received after they started, and an
event stamped before its own arrival could fall before a journey started a moment earlier."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.channels.http import ProviderError
from siyu.channels.wecom_api import ContentError, WeComApi, WeComError, message_body
from siyu.content.links import link_secret
from siyu.content.service import ContentService
from siyu.profiles.identifiers import Identifier
from siyu.sources.service import SourcesService
from siyu.store.changes import emit_events, note_changed
from siyu.store.models import EntryCode, Touch, utcnow
from siyu.tags.service import TagService
from siyu.wecom import corp_tags
from siyu.wecom.client import wecom_api
from siyu.wecom.contacts import resolve_external
from siyu.wecom.follows import find_follow, mark_deleted, upsert_follow

if TYPE_CHECKING:
    from siyu.context import AppContext

log = logging.getLogger(__name__)

CONTACT_ADDED = "Contact Added"
CONTACT_DELETED = "Contact Deleted"
CONTACT_LOST = "Contact Lost"
TRANSFER_FAILED = "Contact Transfer Failed"
#: WeCom accepts a welcome code for 20 s after the add event.
WELCOME_WINDOW_S = 20
#: 41051: the admin configured a welcome message for this staff member (WeCom sends its own);
#: 41096: another app already used the code. Both mean "not ours to send": recorded, not retried.
WELCOME_NOT_OURS = {41051, 41096}


class CallbackEventError(ValueError):
    """An event missing a field the handler needs."""


def _need(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if not value or not isinstance(value, str):
        raise CallbackEventError(f"event {event.get('ChangeType')}: {name} is missing")
    return value


def event_time(event: dict[str, Any]) -> datetime:
    try:
        return (
            datetime.fromtimestamp(int(event.get("CreateTime") or 0), UTC)
            if event.get("CreateTime")
            else utcnow()
        )
    except (TypeError, ValueError, OverflowError):
        return utcnow()


def _message_id(kind: str, contact_id: int, event: dict[str, Any]) -> str:
    digest = hashlib.sha256(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
    return f"wecom:{contact_id:012d}:{kind}:{digest}"


def _contact_of(
    session: Session, ctx: AppContext, provider_key: str, staff: str, external_userid: str
) -> int | None:
    follow = find_follow(session, provider_key, staff, external_userid)
    if follow is not None:
        return follow.contact_id
    return ctx.profiles(session).resolve(Identifier("wecom_external_userid", external_userid))


# --- add -------------------------------------------------------------------------------------
def handle_add_external_contact(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    staff = _need(event, "UserID")
    external_userid = _need(event, "ExternalUserID")
    state = str(event.get("State") or "") or None
    at = event_time(event)
    api = wecom_api(session, ctx, provider_key)
    data = api.call("GET", "/cgi-bin/externalcontact/get", params={"external_userid": external_userid})
    external_contact = dict(data.get("external_contact") or {})
    external_contact.setdefault("external_userid", external_userid)
    code = SourcesService(session).entry_code_by_state(state) if state else None
    if code is not None and code.deleted_at is not None:
        code = None
    contact_id = resolve_external(
        session,
        ctx,
        provider_key,
        external_contact,
        at=at,
        first_channel_id=code.channel_id if code else None,
        first_entry_code_id=code.id if code else None,
    )
    items = {str(f.get("userid")): f for f in data.get("follow_user") or [] if f.get("userid")}
    mine = dict(items.pop(staff, {"userid": staff, "createtime": int(at.timestamp())}))
    if state:  # the event's State is authoritative for this add (kept even when siyu has no such code)
        mine["state"] = state
    follow = upsert_follow(session, contact_id, provider_key, mine, external_userid=external_userid)
    for other in items.values():  # the other staff this customer follows: keep owners complete
        upsert_follow(session, contact_id, provider_key, other, external_userid=external_userid)

    props: dict[str, Any] = {
        "provider": provider_key,
        "staff": staff,
        "state": state,
        "add_way": follow.add_way,
    }
    if code is not None:
        _touch(session, contact_id, code, at)
        props.update(
            _apply_code_tags(session, api, provider_key, code, contact_id, staff, external_userid, at)
        )
    welcome, detail = _send_welcome(session, ctx, api, code, contact_id, event, at)
    props["welcome"] = welcome
    if detail:
        props["welcome_detail"] = detail
    emit_events(session, CONTACT_ADDED, [(_message_id("added", contact_id, event), contact_id, props)])


def _touch(session: Session, contact_id: int, code: EntryCode, at: datetime) -> None:
    """The entry code's touch: the contact's first touch when it had none."""
    has_touch = session.scalar(select(Touch.id).where(Touch.contact_id == contact_id).limit(1)) is not None
    SourcesService(session).record_touch(contact_id, code.channel_id, at, code.id, is_first=not has_touch)
    if not has_touch:
        from siyu.profiles.repository import ProfileRepository

        ProfileRepository(session).set_first_channel([contact_id], code.channel_id, code.id)
    note_changed(session, [contact_id])


def _apply_code_tags(
    session: Session,
    api: WeComApi,
    provider_key: str,
    code: EntryCode,
    contact_id: int,
    staff: str,
    external_userid: str,
    at: datetime,
) -> dict[str, Any]:
    """The code's tags locally, then on WeCom through mark_tag (creating missing corp tags).
    A WeCom failure here does not fail the event (the local tags and the welcome matter more,
    and a retry would come too late for the welcome): it is recorded on the event."""
    keys = [str(k) for k in code.tags or []]
    if not keys:
        return {}
    tags = TagService(session)
    for key in keys:
        tags.apply(key, [contact_id], source="wecom", at=at, detail=f"entry_code:{code.state}", create=True)
    try:
        ids = corp_tags.corp_tag_ids_for(session, api, provider_key, keys)
        if ids:
            api.call(
                "POST",
                "/cgi-bin/externalcontact/mark_tag",
                {"userid": staff, "external_userid": external_userid, "add_tag": ids},
            )
        return {"tags": keys}
    except ProviderError as exc:
        log.warning("mark_tag for %s failed: %s", external_userid, exc)
        return {"tags": keys, "mark_tag_error": str(exc)[:300]}


def _send_welcome(
    session: Session,
    ctx: AppContext,
    api: WeComApi,
    code: EntryCode | None,
    contact_id: int,
    event: dict[str, Any],
    at: datetime,
) -> tuple[str, str | None]:
    """("sent" | "skipped" | "failed", detail). Skipped: no welcome code in the event (WeCom
    omits it when the admin configured a welcome), no welcome template on the code, or
    WeCom said it is not ours to send (41051/41096)."""
    welcome_code = str(event.get("WelcomeCode") or "")
    if code is None or not code.welcome_template:
        return "skipped", "no welcome template"
    if not welcome_code:
        return "skipped", "no WelcomeCode in the event"
    if utcnow() - at > timedelta(seconds=WELCOME_WINDOW_S):
        return "failed", f"more than {WELCOME_WINDOW_S} s after the add: the welcome code has expired"
    content = ContentService(session)
    try:
        rendered = content.render_for(
            code.welcome_template,
            [contact_id],
            None,
            {contact_id: None},
            {contact_id: f"welcome:{welcome_code}"[:64]},
            ctx.settings.public_url,
            link_secret=link_secret(ctx.keyring),
        )[contact_id]
        if rendered.errors:
            return "failed", "; ".join(rendered.errors)[:300]
        body = message_body(rendered.content)
    except (ContentError, ValueError) as exc:
        return "failed", str(exc)[:300]
    try:
        api.call(
            "POST",
            "/cgi-bin/externalcontact/send_welcome_msg",
            {"welcome_code": welcome_code, **body},
            creates=True,
        )
    except WeComError as exc:
        if exc.errcode in WELCOME_NOT_OURS:
            return "skipped", f"errcode {exc.errcode}"
        return "failed", str(exc)[:300]
    except ProviderError as exc:  # the outcome is unknown; WeCom refuses a second use anyway
        return "failed", str(exc)[:300]
    return "sent", None


# --- edit, delete, lost, transfer -----------------------------------------------------------
def handle_edit_external_contact(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    """The staff member edited the customer (remark, description, tags): re-read and upsert."""
    external_userid = _need(event, "ExternalUserID")
    api = wecom_api(session, ctx, provider_key)
    data = api.call("GET", "/cgi-bin/externalcontact/get", params={"external_userid": external_userid})
    external_contact = dict(data.get("external_contact") or {})
    external_contact.setdefault("external_userid", external_userid)
    at = event_time(event)
    contact_id = resolve_external(session, ctx, provider_key, external_contact, at=at)
    corp_tag_ids: set[str] = set()
    for item in data.get("follow_user") or []:
        if item.get("userid"):
            follow = upsert_follow(session, contact_id, provider_key, item, external_userid=external_userid)
            corp_tag_ids.update(follow.corp_tags or [])
    # Tags a staff member put on the customer in WeCom become the mapped siyu tags (added only:
    # a siyu tag may have been set by other sources too, so a missing corp tag removes nothing).
    tags = TagService(session)
    for key in corp_tags.siyu_tags_for(session, provider_key, corp_tag_ids):
        tags.apply(key, [contact_id], source="wecom", at=at, detail="wecom_corp_tag")
    note_changed(session, [contact_id])


def _ended(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any], by: str, name: str
) -> None:
    staff = _need(event, "UserID")
    external_userid = _need(event, "ExternalUserID")
    at = event_time(event)
    contact_id = _contact_of(session, ctx, provider_key, staff, external_userid)
    follow = mark_deleted(session, provider_key, staff, external_userid, by, at)
    if contact_id is None:
        return  # a customer siyu never knew: nothing to end
    props = {"provider": provider_key, "staff": staff, "state": follow.state if follow else None}
    emit_events(session, name, [(_message_id(by, contact_id, event), contact_id, props)])
    note_changed(session, [contact_id])


def handle_del_external_contact(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    """The staff member deleted the customer."""
    _ended(session, ctx, provider_key, event, "staff", CONTACT_DELETED)


def handle_del_follow_user(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    """The customer deleted the staff member: 流失 (churn), its own event."""
    _ended(session, ctx, provider_key, event, "customer", CONTACT_LOST)


def handle_transfer_fail(session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]) -> None:
    """A customer transfer (继承) failed: ``FailReason`` customer_refused / customer_limit_exceed.
    The customer stays with the old staff member; the event lets turnover reports and journeys
    see it."""
    staff = _need(event, "UserID")
    external_userid = _need(event, "ExternalUserID")
    contact_id = _contact_of(session, ctx, provider_key, staff, external_userid)
    if contact_id is None:
        return
    props = {"provider": provider_key, "staff": staff, "reason": str(event.get("FailReason") or "")}
    emit_events(
        session,
        TRANSFER_FAILED,
        [(_message_id("transfer", contact_id, event), contact_id, props)],
        event_time(event),
    )
