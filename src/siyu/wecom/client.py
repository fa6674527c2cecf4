"""The WeCom API client of a configured provider, kept per process.

Building a client per callback would fetch an access token per callback (WeCom counts
``gettoken`` calls too); the client caches its token, so it is kept and rebuilt only when the
provider's settings change."""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.orm import Session

from siyu.channels.providers import ProviderError, ProviderService
from siyu.channels.wecom_api import WeComApi

if TYPE_CHECKING:
    from siyu.context import AppContext
    from siyu.store.models import ChannelProvider

_clients: dict[str, tuple[str, WeComApi]] = {}
_lock = threading.Lock()


def wecom_provider(
    session: Session, ctx: AppContext, provider_key: str
) -> tuple[ChannelProvider, dict[str, Any]]:
    """The provider row and its secrets; refuses a provider of another kind."""
    service = ProviderService(session, ctx.keyring)
    row = service.get(provider_key)
    if row.kind != "wecom":
        raise ProviderError(f"provider {provider_key!r} is {row.kind}, not wecom")
    return row, service.secrets(row)


def wecom_api(session: Session, ctx: AppContext, provider_key: str) -> WeComApi:
    row, secrets = wecom_provider(session, ctx, provider_key)
    config = row.config or {}
    if not config.get("corp_id") or not secrets.get("corp_secret"):
        raise ProviderError(f"provider {provider_key!r}: config corp_id and secret corp_secret are required")
    fingerprint = hashlib.sha256(
        orjson.dumps([config, secrets.get("corp_secret"), row.rate_per_s], option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    with _lock:
        cached = _clients.get(provider_key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        # the channel adapter reads every client setting (rates, retries, rate-limit backoff):
        # one place turns a provider's config into a WeComApi
        api: WeComApi = ProviderService(session, ctx.keyring).adapter(row).api  # type: ignore[attr-defined]
        if cached is not None:
            cached[1].close()
        _clients[provider_key] = (fingerprint, api)
        return api
