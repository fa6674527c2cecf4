"""What the dispatcher hands around: the claimed outbox row, the send-time verdicts a check may
give it, each provider's ``concurrency``, and the fenced writes of results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from siyu.channels.base import Recipient
from siyu.profiles.pii import Keyring
from siyu.store.dialect import chunked
from siyu.store.models import ContactAttribute, Identity, OutboxMessage

#: ``concurrency`` when neither the provider's config nor its adapter says otherwise.
DEFAULT_CONCURRENCY = 1


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    found: int = 0  # confirmed by lookup after a lost worker
    failed: int = 0
    retried: int = 0
    fallback: int = 0
    skipped: int = 0  # may no longer go out (consent, do-not-contact, quiet hours in drop mode)
    held: int = 0  # back in the queue until the quiet hours end
    collected: int = 0  # provider calls whose results were handled


@dataclass(frozen=True)
class QueuedMessage:
    """A claimed outbox row: what the dispatcher sends, and what a send-time check reads."""

    id: int
    key: str
    contact_id: int
    channel: str
    provider: str | None
    content: dict[str, Any]
    attempts: int
    tried_before: bool  # an earlier attempt may have reached the provider
    created_at: datetime
    journey_id: int | None = None
    step: str | None = None
    transactional: bool = False


@dataclass(frozen=True)
class Skip:
    """The message may no longer go out (consent withdrawn, do-not-contact, quiet hours in
    ``drop`` mode): it is recorded ``skipped`` with ``reason`` and never sent."""

    reason: str


@dataclass(frozen=True)
class Hold:
    """Not now (quiet hours): the message goes back to the queue, due at ``until``; the
    attempt is not counted."""

    until: datetime
    reason: str


Verdict = Skip | Hold
#: A send-time check: the verdict for each queued message that may not go out now (messages
#: not in the answer go out). Runs inside the claim's transaction. The journeys package
#: provides it (:class:`siyu.journeys.send_checks.SendTimeCheck`) — channels cannot import
#: journeys — so the dispatcher applies the very rules the send step applied.
SendCheck = Callable[[Session, Sequence[QueuedMessage], datetime], dict[int, Verdict]]


def concurrency_of(adapter: Any, config: dict[str, Any]) -> int:
    """The provider's ``concurrency`` setting, at most what its adapter declares it can take
    (``max_concurrency``; adapters that do not declare it are called one at a time)."""
    most = int(getattr(adapter, "max_concurrency", 1) or 1)
    default = int(getattr(adapter, "default_concurrency", DEFAULT_CONCURRENCY) or 1)
    try:
        wanted = int(config.get("concurrency", default))
    except (TypeError, ValueError):
        wanted = default
    return max(1, min(wanted, most))


def fenced_update(s: Session, updates: list[tuple[QueuedMessage, dict[str, Any]]]) -> None:
    """Write each row's new values, fenced on its attempt number (a worker whose lease ran out
    cannot overwrite a newer claim's row); one statement per shape of values, executed for
    all rows at once — fewer round trips, and the interpreter lock is given up and fought for
    back once per group rather than once per row while the send threads run."""
    t = OutboxMessage.__table__.c
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for c, values in updates:
        params = {f"v_{k}": v for k, v in values.items()}
        shapes[tuple(sorted(values))].append({"b_id": c.id, "b_attempts": c.attempts, **params})
    for cols, params in shapes.items():
        stmt = (
            update(OutboxMessage.__table__)
            .where(t.id == bindparam("b_id"), t.attempts == bindparam("b_attempts"))
            .values({k: bindparam(f"v_{k}", type_=t[k].type) for k in cols})
        )
        s.execute(stmt, params)


def backoff(attempt: int, base_s: float = 30.0) -> float:
    """Seconds before retry ``attempt`` + 1: base, 2×base, 4×base … at most an hour."""
    return min(base_s * 2 ** (attempt - 1), 3600.0)


def fallback_content(content: dict[str, Any]) -> dict[str, Any]:
    """A smart SMS the handset cannot show goes out as its plain-SMS fallback."""
    fb = dict(content.get("fallback") or {})
    fb.setdefault("text", "")
    fb.setdefault("params", {})
    return fb


def recipients_of(s: Session, keyring: Keyring, claimed: list[QueuedMessage]) -> dict[int, Recipient]:
    """Addresses decrypted in memory for this batch only."""
    ids = sorted({c.contact_id for c in claimed})
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for ch in chunked(ids):
        for cid, typ, value, enc in s.execute(
            select(Identity.contact_id, Identity.type, Identity.value, Identity.value_enc).where(
                Identity.contact_id.in_(ch),
                Identity.type.in_(("phone", "email", "wecom_external_userid")),
            )
        ):
            if typ not in found[cid]:
                found[cid][typ] = keyring.decrypt(enc, typ.encode()) if enc is not None else value
        for cid, name, value in s.execute(
            select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
                ContactAttribute.contact_id.in_(ch), ContactAttribute.name.in_(("wecom_owner", "name"))
            )
        ):
            found[cid][f"attr:{name}"] = str(value)
    out = {}
    for c in claimed:
        f = found.get(c.contact_id, {})
        out[c.id] = Recipient(
            contact_id=c.contact_id,
            phone=f.get("phone"),
            email=f.get("email"),
            wecom_external_userid=f.get("wecom_external_userid"),
            wecom_staff_userid=f.get("attr:wecom_owner"),
            name=f.get("attr:name"),
        )
    return out
