"""Configured provider accounts: validated against each adapter's documented fields, secrets
encrypted with the PII keyring, and the adapter built for a message channel on demand."""

from __future__ import annotations

import importlib
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.channels.base import MESSAGE_CHANNELS, PROVIDER_KINDS, ChannelAdapter
from siyu.profiles.pii import Keyring
from siyu.store.models import ChannelProvider
from siyu.store.slugs import check_slug


class ProviderError(ValueError):
    pass


class ProviderNotFound(ProviderError):
    pass


class ProviderConflict(ProviderError):
    pass


#: Settings every provider kind takes: the API's address, the dispatcher's request rate
#: (starts in any one second) and calls in flight at once (capped by the adapter's
#: ``max_concurrency``), WeCom's default sender.
GENERIC_FIELDS = ("base_url", "rate_per_s", "concurrency", "default_sender")


def adapter_class(kind: str) -> Any:
    if kind not in PROVIDER_KINDS:
        raise ProviderError(f"kind: unknown provider kind {kind!r}; one of {', '.join(PROVIDER_KINDS)}")
    module, _, name = PROVIDER_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def _required(fields: dict[str, str]) -> list[str]:
    return [k for k, doc in fields.items() if "required" in doc.lower()]


class ProviderService:
    def __init__(self, session: Session, keyring: Keyring) -> None:
        self.session = session
        self.keyring = keyring

    def create(
        self,
        key: str,
        kind: str,
        config: dict[str, Any] | None = None,
        secrets: dict[str, Any] | None = None,
        default: bool = False,
        rate_per_s: float = 50.0,
        actor: str = "system",
    ) -> ChannelProvider:
        try:
            check_slug(key)
        except ValueError as exc:
            raise ProviderError(f"key: {exc}") from None
        cls = adapter_class(kind)
        config, secrets = dict(config or {}), dict(secrets or {})
        for name in _required(cls.CONFIG_FIELDS):
            if config.get(name) in (None, ""):
                raise ProviderError(f"config.{name}: required for {kind} ({cls.CONFIG_FIELDS[name]})")
        for name in config:
            if name not in cls.CONFIG_FIELDS and name not in GENERIC_FIELDS:
                raise ProviderError(
                    f"config.{name}: not a {kind} setting; one of {', '.join(cls.CONFIG_FIELDS)}"
                )
        aliases: dict[str, tuple[str, ...]] = getattr(cls, "SECRET_ALIASES", {})
        for name in _required(cls.SECRET_FIELDS):
            if all(secrets.get(n) in (None, "") for n in (name, *aliases.get(name, ()))):
                raise ProviderError(f"secrets.{name}: required for {kind} ({cls.SECRET_FIELDS[name]})")
        check = getattr(cls, "check_secrets", None)
        if check is not None:
            try:
                check(secrets)
            except ValueError as exc:
                raise ProviderError(str(exc)) from None
        if "concurrency" in config:
            n = config["concurrency"]
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1024:
                raise ProviderError(
                    f"config.concurrency: a whole number of requests in flight, 1–1024, not {n!r}"
                )
        try:
            rate = float(config.get("rate_per_s", rate_per_s))
        except (TypeError, ValueError):
            raise ProviderError(
                f"config.rate_per_s: a number of requests per second, not {config['rate_per_s']!r}"
            ) from None
        if self.by_key(key) is not None:
            raise ProviderConflict(f"key: provider {key!r} already exists")
        if default:
            self._clear_default(kind)
        row = ChannelProvider(
            key=key,
            kind=kind,
            config=config,
            secrets_enc=self.keyring.encrypt(orjson.dumps(secrets).decode(), self._aad(key))
            if secrets
            else None,
            is_default=default,
            rate_per_s=rate,
        )
        self.session.add(row)
        self.session.flush()
        audit.record(self.session, actor, "provider.created", "provider", key, {"kind": kind})
        return row

    @staticmethod
    def _aad(key: str) -> bytes:
        return f"provider:{key}".encode()

    def _clear_default(self, kind: str) -> None:
        """A new default replaces the default of every kind carrying the same channels (Aliyun
        and Tencent both carry sms: one default between them)."""
        channels = [c for c, kinds in MESSAGE_CHANNELS.items() if kind in kinds]
        rivals = {k for c in channels for k in MESSAGE_CHANNELS[c]} | {kind}
        for row in self.session.scalars(select(ChannelProvider).where(ChannelProvider.kind.in_(rivals))):
            row.is_default = False

    def by_key(self, key: str) -> ChannelProvider | None:
        return self.session.scalar(select(ChannelProvider).where(ChannelProvider.key == key))

    def get(self, key: str) -> ChannelProvider:
        row = self.by_key(key)
        if row is None:
            raise ProviderNotFound(f"no provider {key!r}")
        return row

    def list(self) -> list[dict[str, Any]]:
        return [
            self.describe(r)
            for r in self.session.scalars(select(ChannelProvider).order_by(ChannelProvider.id))
        ]

    def describe(self, row: ChannelProvider) -> dict[str, Any]:
        """Never the secrets themselves: only which ones are set."""
        return {
            "key": row.key,
            "kind": row.kind,
            "config": row.config,
            "secrets": sorted(self.secrets(row)),
            "default": row.is_default,
            "rate_per_s": row.rate_per_s,
            "callback_path": f"/api/v1/providers/{row.key}/callbacks/{{receipts|inbound}}?token="
            f"{self.callback_token(row.key)}",
        }

    def callback_token(self, key: str) -> str:
        """The secret in the callback URL given to the provider: providers push receipts and
        replies unsigned, so the URL itself must be unguessable."""
        return self.keyring.blind_index("provider_callback", key)[:32]

    def delete(self, key: str, actor: str = "system") -> None:
        self.session.delete(self.get(key))
        self.session.flush()
        audit.record(self.session, actor, "provider.deleted", "provider", key)

    def secrets(self, row: ChannelProvider) -> dict[str, Any]:
        if row.secrets_enc is None:
            return {}
        return dict(orjson.loads(self.keyring.decrypt(row.secrets_enc, self._aad(row.key))))

    def for_channel(self, channel: str, key: str | None = None) -> ChannelProvider:
        """The provider that carries ``channel``: the named one, else the default (or only)
        provider of a kind that can carry it."""
        kinds = MESSAGE_CHANNELS.get(channel)
        if kinds is None:
            raise ProviderError(f"unknown channel {channel!r}")
        if key is not None:
            row = self.get(key)
            if row.kind not in kinds:
                raise ProviderError(f"provider {key!r} ({row.kind}) cannot send {channel}")
            return row
        rows = list(
            self.session.scalars(
                select(ChannelProvider)
                .where(ChannelProvider.kind.in_(kinds))
                .order_by(ChannelProvider.is_default.desc(), ChannelProvider.id)
            )
        )
        if not rows:
            raise ProviderNotFound(f"no provider configured for {channel} (kinds: {', '.join(kinds)})")
        return rows[0]

    def adapter(self, row: ChannelProvider, rate_per_s: float | None = None) -> ChannelAdapter:
        """The provider's client; ``rate_per_s`` overrides the row's rate for a client with a
        budget of its own (the receipt poller)."""
        config = {**row.config, "rate_per_s": rate_per_s if rate_per_s is not None else row.rate_per_s}
        return adapter_class(row.kind)(config, self.secrets(row))  # type: ignore[no-any-return]
