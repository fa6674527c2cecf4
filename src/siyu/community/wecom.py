"""The community's way to WeCom: the provider's client and default provider (both from
``siyu.wecom``, with refusals as :class:`CommunityError`), and the identity of an external group
member (the same resolution as a customer a staff member adds)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from siyu.channels.providers import ProviderError
from siyu.channels.wecom_api import WeComApi
from siyu.context import AppContext

EC = "/cgi-bin/externalcontact"


class CommunityError(ValueError):
    """Bad input for a community operation; the message names the field and the problem."""


class CommunityNotFound(CommunityError):
    """No such customer group or live code."""


def api_for(session: Session, ctx: AppContext, provider_key: str) -> WeComApi:
    """The provider's kept client (``siyu.wecom.client.wecom_api``: one per provider and
    process, rebuilt when its settings change), refusals as this capability's error."""
    from siyu.wecom.client import wecom_api

    try:
        return wecom_api(session, ctx, provider_key)
    except ProviderError:
        raise CommunityError(f"provider: {provider_key!r} is not a configured WeCom provider") from None


def default_provider(session: Session) -> str:
    """The WeCom provider to use when an operator names none (the default one, else the first)."""
    from siyu.wecom.provider import WeComUnavailable, default_provider_key

    try:
        return default_provider_key(session)
    except WeComUnavailable:
        raise CommunityError(
            "provider: no WeCom provider is configured (siyu channels providers add …)"
        ) from None


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
