"""Python API for the WeCom inflow: ``s.wecom_callbacks`` (the callback inbox) and
``s.corp_tags`` (WeCom corp tags ↔ siyu tags)."""

from __future__ import annotations

from typing import Any

from siyu.channels.providers import ProviderService
from siyu.context import AppContext
from siyu.wecom import corp_tags
from siyu.wecom.callbacks import inbox


class WeComCallbacksClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def list(
        self, status: str | None = None, provider: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Received callbacks, newest first (``status``: pending, done, unhandled, failed)."""
        with self.ctx.db.session() as s:
            return [v.as_dict() for v in inbox.list_callbacks(s, status, provider, limit)]

    def counts(self) -> dict[str, int]:
        with self.ctx.db.session() as s:
            return inbox.counts(s)

    def retry(self, callback_id: int | None = None, process: bool = True) -> dict[str, Any]:
        """Queue a failed or unhandled callback again (all failed ones when no id is given) and,
        with ``process``, process what is due now."""
        with self.ctx.db.session() as s:
            if callback_id is None:
                queued = inbox.retry_failed(s)
            else:
                inbox.retry(s, callback_id)
                queued = 1
            s.commit()
        processed = inbox.process_due(self.ctx) if process else {}
        return {"queued": queued, "processed": processed}

    def process(self) -> dict[str, int]:
        """Process every due callback now (what ``siyu serve`` does in the background)."""
        return inbox.process_due(self.ctx)

    def setup(self, provider: str, public_url: str | None = None) -> dict[str, Any]:
        """What to paste into WeCom's admin: the URL, and whether the token and key are set."""
        with self.ctx.db.session() as s:
            service = ProviderService(s, self.ctx.keyring)
            row = service.get(provider)
            secrets = service.secrets(row)
        base = (public_url or self.ctx.settings.public_url).rstrip("/")
        return {
            "provider": provider,
            "kind": row.kind,
            "url": f"{base}/api/v1/providers/{provider}/callbacks/events",
            "corp_id": (row.config or {}).get("corp_id"),
            "callback_token_set": bool(secrets.get("callback_token")),
            "encoding_aes_key_set": bool(secrets.get("encoding_aes_key")),
        }


class CorpTagsClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def sync(self, provider: str | None = None) -> dict[str, int]:
        """Full sync of the corp's tag library (``get_corp_tag_list``) into siyu tags
        (``provider``: the WeCom provider's key; default the wecom provider)."""
        with self.ctx.db.session() as s:
            key = provider or ProviderService(s, self.ctx.keyring).for_channel("wecom_private").key
            result = corp_tags.sync_provider(s, self.ctx, key)
            s.commit()
        return result.as_dict()

    def list(self, provider: str | None = None) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return corp_tags.mappings(s, provider)
