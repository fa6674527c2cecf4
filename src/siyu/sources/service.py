"""Channels, entry codes, sources and touch recording (first touch and every later one)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.sources.schemas import ChannelCreate, EntryCodeCreate, SourceCreate
from siyu.store.dialect import chunked
from siyu.store.models import Channel, EntryCode, Source, Touch


class SourceError(ValueError):
    """A request about channels or sources that cannot be carried out."""


class SourcesService:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- channels ---------------------------------------------------------------------------
    def create_channel(self, data: ChannelCreate, actor: str = "system") -> Channel:
        if self.channel_by_key(data.key) is not None:
            raise SourceError(f"channel {data.key!r} already exists")
        channel = Channel(key=data.key, name=data.name, kind=data.kind, config={})
        self.session.add(channel)
        self.session.flush()
        audit.record(self.session, actor, "channel.created", "channel", channel.id, {"key": data.key})
        return channel

    def ensure_channel(self, key: str, kind: str, name: str | None = None) -> Channel:
        return self.channel_by_key(key) or self.create_channel(
            ChannelCreate(key=key, name=name or key, kind=kind)
        )

    def channel_by_key(self, key: str) -> Channel | None:
        return self.session.scalar(select(Channel).where(Channel.key == key))

    def channels(self) -> list[Channel]:
        return list(self.session.scalars(select(Channel).order_by(Channel.id)))

    # --- entry codes ------------------------------------------------------------------------
    def create_entry_code(self, data: EntryCodeCreate, actor: str = "system") -> EntryCode:
        channel = self.channel_by_key(data.channel)
        if channel is None:
            raise SourceError(f"channel {data.channel!r} does not exist")
        if self.entry_code_by_state(data.state) is not None:
            raise SourceError(f"an entry code with state {data.state!r} already exists")
        code = EntryCode(channel_id=channel.id, state=data.state, name=data.name, campaign=data.campaign)
        self.session.add(code)
        self.session.flush()
        audit.record(self.session, actor, "entry_code.created", "entry_code", code.id, {"state": data.state})
        return code

    def entry_code_by_state(self, state: str) -> EntryCode | None:
        return self.session.scalar(select(EntryCode).where(EntryCode.state == state))

    def entry_codes(self) -> list[EntryCode]:
        return list(self.session.scalars(select(EntryCode).order_by(EntryCode.id)))

    # --- sources ----------------------------------------------------------------------------
    def create_source(self, data: SourceCreate, actor: str = "system") -> Source:
        if self.session.scalar(select(Source).where(Source.name == data.name)) is not None:
            raise SourceError(f"source {data.name!r} already exists")
        channel_id = None
        if data.channel:
            channel = self.channel_by_key(data.channel)
            if channel is None:
                raise SourceError(f"channel {data.channel!r} does not exist")
            channel_id = channel.id
        source = Source(name=data.name, write_key=secrets.token_urlsafe(24), channel_id=channel_id)
        self.session.add(source)
        self.session.flush()
        audit.record(self.session, actor, "source.created", "source", source.id, {"name": data.name})
        return source

    def source_by_write_key(self, write_key: str) -> Source | None:
        source = self.session.scalar(select(Source).where(Source.write_key == write_key))
        return None if source is None or source.disabled else source

    def sources(self) -> list[Source]:
        return list(self.session.scalars(select(Source).order_by(Source.id)))

    # --- touches ----------------------------------------------------------------------------
    def record_touch(
        self,
        contact_id: int,
        channel_id: int,
        at: datetime,
        entry_code_id: int | None = None,
        source_id: int | None = None,
        is_first: bool = False,
    ) -> None:
        self.session.add(
            Touch(
                contact_id=contact_id,
                channel_id=channel_id,
                entry_code_id=entry_code_id,
                source_id=source_id,
                is_first=is_first,
                occurred_at=at,
            )
        )

    def record_touches(self, rows: list[dict[str, Any]]) -> None:
        """Many touches in one statement (a sync bringing in thousands of contacts): each row has
        ``contact_id``, ``channel_id``, ``occurred_at`` and optionally ``entry_code_id``,
        ``source_id``, ``is_first``."""
        if rows:
            self.session.execute(insert(Touch), rows)

    def touched_channels(self, contact_ids: list[int]) -> set[tuple[int, int]]:
        """(contact, channel) pairs that already have a touch."""
        out: set[tuple[int, int]] = set()
        for chunk in chunked(contact_ids):
            out.update(
                (contact, channel)
                for contact, channel in self.session.execute(
                    select(Touch.contact_id, Touch.channel_id).where(Touch.contact_id.in_(chunk)).distinct()
                ).all()
            )
        return out

    def touches(self, contact_id: int) -> list[Touch]:
        return list(
            self.session.scalars(
                select(Touch).where(Touch.contact_id == contact_id).order_by(Touch.occurred_at, Touch.id)
            )
        )
