"""Batch ingest: validate calls, resolve them to contacts, store events idempotently.

One path serves the HTTP API and file imports. Per batch:

1. validate every call (bad ones are reported with their index, field and reason);
2. drop calls whose message_id is already stored (idempotency; counted as duplicates);
3. resolve identifiers to contacts: a call whose identifiers are all known and point at one
   contact takes the fast path (one cached lookup); anything else — identify calls with traits,
   new identifiers, identifiers that connect two contacts — goes through full identity
   resolution, whose result refreshes the cache;
4. record touches (entry code in ``context.state``, utm source, or the source's channel);
5. insert the events with INSERT … ON CONFLICT DO NOTHING;
6. hand the accepted events a consumer asked for (orders: ``Order Completed`` /
   ``Order Refunded``) to it, in the same transaction, so an order is booked exactly when its
   event is accepted, whichever ingest path it came through.

The caller commits: the answer to a client is sent only after its batch is durable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.ingest.messages import Message, MessageError, MessageValidator
from siyu.profiles.identifiers import Identifier
from siyu.profiles.repository import IdentityKey
from siyu.profiles.service import ProfileService
from siyu.sources.service import SourcesService
from siyu.store.changes import note_changed
from siyu.store.dialect import chunked, driver_insert_ignore, storage_time
from siyu.store.engine import Database
from siyu.store.models import EVENT_COLUMNS, Channel, EntryCode, Event, Source

log = logging.getLogger(__name__)

#: Every column but the id, which the database assigns.
INGEST_COLUMNS = EVENT_COLUMNS[1:]


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    field: str
    reason: str


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    contacts_created: int = 0
    merges: int = 0


@dataclass(frozen=True, slots=True)
class Accepted:
    """An event of this batch as a consumer sees it: the validated call, the contact it was
    resolved to (after any merge in the batch) and the write-key source it came through."""

    message: Message
    contact_id: int
    source: Source | None


class EventConsumer(Protocol):
    """Books accepted events into a capability's own tables inside the ingest transaction
    (``siyu.commerce`` turns order events into orders). Ingest sits below the capabilities, so
    it never imports them: the composition root (``siyu.client``) hands consumers in.

    A consumer must be idempotent: on PostgreSQL a batch that lost a race is redone whole, and
    a concurrent batch may carry the same call."""

    def wants(self, message: Message) -> bool:
        """Whether this call is for the consumer: by event name (orders), or by what it
        carries (a ``referral_code`` on any track or identify call)."""
        ...

    def __call__(self, session: Session, accepted: list[Accepted]) -> None: ...


#: Attempts at a batch that collides with a concurrent writer creating the same identity.
RETRIES = 5


def ingest_in_transaction(
    db: Database,
    make_service: Callable[[Session], IngestService],
    valid: list[tuple[int, Message]],
    rejected: list[Rejection],
    source: Source | None,
    received_at: datetime | None = None,
) -> BatchResult:
    """Own one unit of work for a batch. On PostgreSQL two writers can create the same new
    identity at once; the loser's transaction fails on the unique index and is redone, and then
    finds the identity the other created."""
    for attempt in range(RETRIES):
        try:
            with db.session() as s:
                return make_service(s).ingest_valid(valid, rejected, source, received_at)
        except IntegrityError:
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def validate_all(
    validator: MessageValidator,
    calls: list[Any],
    pre_rejected: dict[int, Rejection] | None = None,
    *,
    received_at: datetime | None = None,
    sent_at: Any = None,
) -> tuple[list[tuple[int, Message]], list[Rejection]]:
    """Validate a batch: (index, message) for the good calls, a rejection for each bad one.
    ``received_at``: the batch arrived live then (HTTP), so times are corrected with ``sentAt``
    (the batch's ``sent_at`` unless a call has its own); files pass nothing."""
    now = received_at or datetime.now(UTC)
    live = received_at is not None
    valid: list[tuple[int, Message]] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(calls):
        if pre_rejected and index in pre_rejected:
            rejected.append(pre_rejected[index])
            continue
        try:
            valid.append((index, validator.validate(raw, now, live, sent_at)))
        except MessageError as exc:
            rejected.append(Rejection(index, exc.field, exc.reason))
        except Exception as exc:
            # A validator bug must cost one call, not the batch: the Segment SDKs retry a 500
            # and then drop every call of the batch.
            log.exception("validating call %d raised; rejected it", index)
            rejected.append(Rejection(index, "(call)", f"could not be validated ({type(exc).__name__})"))
    return valid, rejected


class IngestService:
    def __init__(
        self, session: Session, profiles: ProfileService, consumers: Sequence[EventConsumer] = ()
    ) -> None:
        self.session = session
        self.profiles = profiles
        self.consumers = tuple(consumers)
        self.sources = SourcesService(session)
        # identity key → contact id, and absorbed → survivor, kept across batches of one job
        self._owners: dict[IdentityKey, int] = {}
        self._redirect: dict[int, int] = {}
        self._channel_keys: dict[str, int] | None = None
        self._time = storage_time(session.get_bind().dialect.name)

    # --- public -----------------------------------------------------------------------------
    def ingest_valid(
        self,
        valid: list[tuple[int, Message]],
        rejected: list[Rejection],
        source: Source | None = None,
        received_at: datetime | None = None,
    ) -> BatchResult:
        """Ingest calls validated already: the HTTP handler validates before it opens its
        transaction, the importer batch by batch. ``received_at`` is stored as the events'
        receive time (the one their clock-skew correction used); default now."""
        result = BatchResult(rejected=list(rejected))
        now = self._time(received_at or datetime.now(UTC))
        fresh = self._drop_duplicates(valid, result)
        if not fresh:
            return result
        codes = self._entry_codes({m.state for _, m in fresh if m.state})
        self._prefetch_owners(fresh)
        self._create_new_contacts(fresh, source, codes, result)
        rows = []
        touches: list[tuple[int, int, int | None, datetime]] = []
        for _, msg in fresh:
            touch = self._touch_for(msg, source, codes)
            contact_id = self._resolve(msg, source, touch, result)
            rows.append(self._event_row(msg, contact_id, source, now))
            if touch is not None:
                touches.append((contact_id, touch[0], touch[1], msg.timestamp))
        if self._redirect:  # a later call in this batch may have merged the contact away
            rows = [(r[0], self._live(r[1]), *r[2:]) for r in rows]
        self._record_touches(touches, source)
        inserted = driver_insert_ignore(self.session, "events", INGEST_COLUMNS, rows, "message_id")
        result.accepted += inserted
        result.duplicates += len(rows) - inserted
        self._consume(fresh, rows, source)
        return result

    def _consume(
        self, fresh: list[tuple[int, Message]], rows: list[tuple[Any, ...]], source: Source | None
    ) -> None:
        for consumer in self.consumers:
            mine = [
                Accepted(msg, row[1], source)
                for (_, msg), row in zip(fresh, rows, strict=True)
                if consumer.wants(msg)
            ]
            if mine:
                consumer(self.session, mine)

    # --- steps ------------------------------------------------------------------------------
    def _drop_duplicates(
        self, valid: list[tuple[int, Message]], result: BatchResult
    ) -> list[tuple[int, Message]]:
        ids = list({m.message_id for _, m in valid})
        existing: set[str] = set()
        for chunk in chunked(ids):
            existing.update(self.session.scalars(select(Event.message_id).where(Event.message_id.in_(chunk))))
        fresh: list[tuple[int, Message]] = []
        seen: set[str] = set()
        for index, msg in valid:
            if msg.message_id in existing or msg.message_id in seen:
                result.duplicates += 1
                continue
            seen.add(msg.message_id)
            fresh.append((index, msg))
        return fresh

    def _prefetch_owners(self, fresh: list[tuple[int, Message]]) -> None:
        """One indexed lookup per (type, scope) for every identifier of the batch not cached."""
        keys = {self.profiles.key(i) for _, m in fresh for i in m.identifiers}
        missing = [k for k in keys if k not in self._owners]
        if missing:
            self._owners.update(self.profiles.repo.owners(missing))
        if len(self._owners) > 1_000_000:  # bound memory on very large imports
            self._owners.clear()

    def _create_new_contacts(
        self,
        fresh: list[tuple[int, Message]],
        source: Source | None,
        codes: dict[str, EntryCode],
        result: BatchResult,
    ) -> None:
        """Calls whose identifiers are all unknown create their contacts in bulk: calls sharing
        an identifier are one person (union-find), created once. Anything touching a known
        identifier goes through full resolution instead."""
        parent: dict[IdentityKey, IdentityKey] = {}

        def find(k: IdentityKey) -> IdentityKey:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        members: list[tuple[Message, list[IdentityKey]]] = []
        for _, msg in fresh:
            keys = [self.profiles.key(i) for i in msg.identifiers]
            if any(self._owner(k) is not None for k in keys):
                continue
            for k in keys:
                parent.setdefault(k, k)
            for k in keys[1:]:
                parent[find(k)] = find(keys[0])
            members.append((msg, keys))
        if not members:
            return
        groups: dict[IdentityKey, tuple[dict[Identifier, None], list[Message]]] = {}
        for msg, keys in members:
            idents, msgs = groups.setdefault(find(keys[0]), ({}, []))
            idents.update(dict.fromkeys(msg.identifiers))
            msgs.append(msg)
        specs = []
        for idents, msgs in groups.values():
            first = min(msgs, key=lambda m: m.timestamp)
            channel_id, code_id = self._touch_for(first, source, codes) or (None, None)
            specs.append((list(idents), first.timestamp, channel_id, code_id))
        ids = self.profiles.create_many(specs, source.name if source else None)
        for (idents, _, _, _), cid in zip(specs, ids, strict=True):
            if cid is None:
                continue
            result.contacts_created += 1
            for ident in idents:
                self._owners[self.profiles.key(ident)] = cid

    def _live(self, contact_id: int) -> int:
        while contact_id in self._redirect:
            contact_id = self._redirect[contact_id]
        return contact_id

    def _owner(self, key: IdentityKey) -> int | None:
        cid = self._owners.get(key)
        return None if cid is None else self._live(cid)

    def _resolve(
        self, msg: Message, source: Source | None, touch: tuple[int, int | None] | None, result: BatchResult
    ) -> int:
        keys = [self.profiles.key(i) for i in msg.identifiers]
        owners = {self._owner(k) for k in keys}
        if None not in owners and len(owners) == 1 and not msg.traits:
            return owners.pop()  # type: ignore[return-value]
        channel_id, code_id = touch or (None, None)
        res = self.profiles.identify(
            msg.identifiers,
            msg.traits,
            at=msg.timestamp,
            source=source.name if source else None,
            first_channel_id=channel_id,
            first_entry_code_id=code_id,
            actor="ingest",
        )
        for absorbed in res.merged:
            self._redirect[absorbed] = res.contact_id
        for ident in res.added:
            self._owners[self.profiles.key(ident)] = res.contact_id
        result.contacts_created += int(res.created)
        result.merges += len(res.merged)
        return res.contact_id

    def _entry_codes(self, states: set[str]) -> dict[str, EntryCode]:
        if not states:
            return {}
        codes = self.session.scalars(select(EntryCode).where(EntryCode.state.in_(sorted(states))))
        return {c.state: c for c in codes}

    def _touch_for(
        self, msg: Message, source: Source | None, codes: dict[str, EntryCode]
    ) -> tuple[int, int | None] | None:
        """(channel, entry code) this call touches, if any."""
        state = msg.state
        if state and state in codes:
            return codes[state].channel_id, codes[state].id
        campaign = msg.campaign_source
        if campaign:
            if self._channel_keys is None:
                rows = self.session.execute(select(Channel.key, Channel.id)).all()
                self._channel_keys = {key: cid for key, cid in rows}
            if campaign in self._channel_keys:
                return self._channel_keys[campaign], None
        if source is not None and source.channel_id is not None:
            return source.channel_id, None
        return None

    def _record_touches(
        self, touches: list[tuple[int, int, int | None, datetime]], source: Source | None
    ) -> None:
        """Entry-code touches are always recorded; a channel touch only the first time a contact
        is seen on that channel (otherwise every event would be a touch)."""
        if not touches:
            return
        # Oldest first per contact, so the first touch is the earliest call, as for the contact.
        touches = sorted(
            ((self._live(c), ch, code, at) for c, ch, code, at in touches), key=lambda t: (t[0], t[3])
        )
        seen = self.sources.touched_channels(sorted({t[0] for t in touches}))
        touched_contacts = {c for c, _ in seen}
        firsts: dict[tuple[int, int | None], list[int]] = {}
        recorded: set[int] = set()
        for contact_id, channel_id, code_id, at in touches:
            if code_id is None and (contact_id, channel_id) in seen:
                continue
            is_first = contact_id not in touched_contacts
            recorded.add(contact_id)
            self.sources.record_touch(
                contact_id, channel_id, at, code_id, source.id if source else None, is_first=is_first
            )
            if is_first:
                firsts.setdefault((channel_id, code_id), []).append(contact_id)
            seen.add((contact_id, channel_id))
            touched_contacts.add(contact_id)
        note_changed(self.session, recorded)
        # A contact with no first channel yet (e.g. imported from a CSV) takes this touch's.
        for (channel_id, code_id), contact_ids in firsts.items():
            self.profiles.repo.set_first_channel(contact_ids, channel_id, code_id)

    def _event_row(self, msg: Message, contact_id: int, source: Source | None, now: Any) -> tuple[Any, ...]:
        props = msg.properties
        if msg.type == "identify" and msg.traits:
            props = {"traits": msg.traits}
        return (
            msg.message_id,
            contact_id,
            source.id if source else None,
            msg.type,
            msg.event,
            None if props is None else _dumps(props),
            None if msg.context is None else _dumps(msg.context),
            self._time(msg.timestamp),
            now,
        )


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
