"""The WeCom API client of a configured ``wecom`` provider, and WeCom errors in words.

Kept here rather than in ``channels`` because the inflow, sync and staff code all need a plain
API client (not a message adapter) for a provider key."""

from __future__ import annotations

from sqlalchemy.orm import Session

from siyu.channels.providers import ProviderService
from siyu.channels.wecom_api import WeComApi, WeComError
from siyu.profiles.pii import Keyring

EC = "/cgi-bin/externalcontact"

#: What the errcodes an operator meets here mean (WeCom's global error list, 90313).
ERRCODE_WORDS: dict[int, str] = {
    40003: "a staff userid is not a member of the corp",
    40058: "WeCom refused a parameter",
    40096: "the customer is not a customer of that staff member",
    40128: "the customer was already transferred twice in the last 90 days",
    40129: "the customer is already being transferred",
    41054: "the staff member has not activated WeCom",
    45009: "WeCom's per-minute call limit was reached; try again in a minute",
    45033: "too many calls at once; try again shortly",
    48002: "the app may not call this API (allow it the customer-contact permission)",
    60011: "the app may not see that staff member (check the app's visible range)",
}


class WeComUnavailable(ValueError):
    """No usable WeCom provider under that key."""


def provider_api(session: Session, keyring: Keyring, provider_key: str) -> WeComApi:
    """A new API client for provider ``provider_key`` (the caller closes it)."""
    service = ProviderService(session, keyring)
    row = service.by_key(provider_key)
    if row is None:
        raise WeComUnavailable(
            f"wecom_provider: no provider {provider_key!r} (add it with siyu providers add)"
        )
    if row.kind != "wecom":
        raise WeComUnavailable(f"wecom_provider: provider {provider_key!r} is {row.kind}, not wecom")
    adapter = service.adapter(row)
    return adapter.api  # type: ignore[attr-defined,no-any-return]


def in_words(exc: WeComError) -> str:
    """``errcode 40003 (a staff userid is not a member of the corp): invalid userid u9``."""
    words = ERRCODE_WORDS.get(exc.errcode)
    label = f"errcode {exc.errcode}" + (f" ({words})" if words else "")
    return f"WeCom refused {exc.path.rsplit('/', 1)[-1]}: {label}: {exc.errmsg}"


def default_provider_key(session: Session, provider_key: str | None = None) -> str:
    """``provider_key`` if given, else the default (or only) wecom provider."""
    if provider_key:
        return provider_key
    from sqlalchemy import select

    from siyu.store.models import ChannelProvider

    rows = list(
        session.execute(
            select(ChannelProvider.key)
            .where(ChannelProvider.kind == "wecom")
            .order_by(ChannelProvider.is_default.desc(), ChannelProvider.id)
        ).scalars()
    )
    if not rows:
        raise WeComUnavailable("provider: no wecom provider configured (add one with siyu providers add)")
    return rows[0]
