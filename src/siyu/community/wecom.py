"""The WeCom client of a configured provider, and the identity of an external group member.

Clients are cached per (address, corp, secret): a callback handler runs once per event, and a
fresh client per event would fetch a fresh access token each time (gettoken is rate-limited and
tokens live 7,200 s)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session

from siyu.channels.providers import ProviderService
from siyu.channels.wecom_api import WeComApi
from siyu.context import AppContext

EC = "/cgi-bin/externalcontact"
_CLIENTS: dict[tuple[str, ...], WeComApi] = {}
_LOCK = threading.Lock()


class CommunityError(ValueError):
    """Bad input for a community operation; the message names the field and the problem."""


class CommunityNotFound(CommunityError):
    """No such customer group or live code."""


def api_for(session: Session, ctx: AppContext, provider_key: str) -> WeComApi:
    providers = ProviderService(session, ctx.keyring)
    row = providers.by_key(provider_key)
    if row is None or row.kind != "wecom":
        raise CommunityError(f"provider: {provider_key!r} is not a configured WeCom provider")
    config, secrets = row.config or {}, providers.secrets(row)
    key = (
        str(config.get("base_url") or ""),
        str(config.get("corp_id") or ""),
        str(secrets.get("corp_secret") or ""),
        str(config.get("backoff_s") or ""),
    )
    with _LOCK:
        api = _CLIENTS.get(key)
        if api is None:
            adapter: Any = providers.adapter(row)
            api = _CLIENTS[key] = adapter.api
    return api


def default_provider(session: Session) -> str:
    """The WeCom provider to use when an operator names none (the default one, else the first)."""
    from sqlalchemy import select

    from siyu.store.models import ChannelProvider

    row = session.scalar(
        select(ChannelProvider)
        .where(ChannelProvider.kind == "wecom")
        .order_by(ChannelProvider.is_default.desc(), ChannelProvider.id)
    )
    if row is None:
        raise CommunityError("provider: no WeCom provider is configured (siyu channels providers add …)")
    return row.key


def resolve_member(
    session: Session, ctx: AppContext, provider_key: str, external_userid: str, unionid: str | None
) -> int | None:
    """The contact of an external group member, through the same resolution as a customer added
    by a staff member (``siyu.wecom.contacts.resolve_external``: external_userid + unionid);
    None when the member's external_userid is not one. Staff members (type 1) never reach here."""
    from siyu.wecom.contacts import ExternalContactError, resolve_external

    try:
        return resolve_external(
            session, ctx, provider_key, {"external_userid": external_userid, "unionid": unionid}
        )
    except ExternalContactError:
        return None
