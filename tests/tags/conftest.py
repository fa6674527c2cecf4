"""Fixtures of the tag tests: ``kit`` wraps a system of record (SQLite, and PostgreSQL when
``SIYU_TEST_DATABASE_URL`` is set) with helpers that create contacts and events through the
Python API (Segment-spec calls) and read back what the tags capability wrote.

Expected values are computed here from docs/tags.md (``weight × 0.5^(age / half_life)``, every
contribution decayed from its own time), never with the capability's own helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import Contact, ContactTag, Event, Identity, Setting, Tag, TagChange
from siyu.tags.rules import TagRuleService
from siyu.tags.service import TagService

#: A fixed point in the past every test builds its times from.
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def expected_weight(
    contributions: list[tuple[float, datetime]], at: datetime, half_life: float | None
) -> float:
    """docs/tags.md: the sum of every contribution decayed from its own time."""
    if not half_life:
        return sum(w for w, _ in contributions)
    return sum(w * 0.5 ** ((at - t).total_seconds() / 86_400 / half_life) for w, t in contributions)


def phone(n: int) -> str:
    return f"+86139{n:08d}"


class Kit:
    """Test modules cannot import this file (``--import-mode=importlib``): the helpers above are
    reachable as attributes of the fixture too."""

    T0 = T0
    day = staticmethod(day)
    expected_weight = staticmethod(expected_weight)
    phone = staticmethod(phone)

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.client = Siyu(ctx)
        self._mid = 0
        self.phones: dict[str, str] = {}

    # --- writing ------------------------------------------------------------------------------
    def message_id(self) -> str:
        self._mid += 1
        return f"kit-{self._mid}"

    def send(self, calls: list[dict[str, Any]]) -> None:
        result = self.client.batch(calls)
        assert result.rejected == [], result.rejected

    def people(self, *uids: str) -> dict[str, int]:
        """One contact per ``userId`` (a customer_no), with a phone (``kit.phones[uid]``) and
        the email ``{uid}@example.com``."""
        for uid in uids:
            self.phones[uid] = phone(len(self.phones) + 1)
        self.send(
            [
                {
                    "type": "identify",
                    "userId": uid,
                    "traits": {"phone": self.phones[uid], "email": f"{uid}@example.com"},
                    "messageId": self.message_id(),
                    "timestamp": T0.isoformat(),
                }
                for uid in uids
            ]
        )
        ids = self.contact_ids()
        return {uid: ids[uid] for uid in uids}

    def anonymous(self, device: str, email: str) -> int:
        """A contact known only by a device id and an email (no customer_no)."""
        self.send(
            [
                {
                    "type": "identify",
                    "anonymousId": device,
                    "traits": {"email": email},
                    "messageId": self.message_id(),
                    "timestamp": T0.isoformat(),
                }
            ]
        )
        with self.ctx.db.session() as s:
            cid = self.ctx.profiles(s).resolve(self.ctx.parser.parse("email", email))
        assert cid is not None
        return cid

    def link(self, uid: str, email: str) -> None:
        """An identify call sharing an email: merges the email's contact into ``uid``'s."""
        self.send(
            [
                {
                    "type": "identify",
                    "userId": uid,
                    "traits": {"email": email},
                    "messageId": self.message_id(),
                    "timestamp": day(1).isoformat(),
                }
            ]
        )

    def track(self, uid: str, event: str, at: datetime, **properties: Any) -> dict[str, Any]:
        return {
            "type": "track",
            "event": event,
            "userId": uid,
            "properties": properties,
            "messageId": self.message_id(),
            "timestamp": at.isoformat(),
        }

    @contextmanager
    def tags(self) -> Iterator[TagService]:
        with self.ctx.db.session() as s:
            yield TagService(s)

    @contextmanager
    def rules(self) -> Iterator[TagRuleService]:
        with self.ctx.db.session() as s:
            yield TagRuleService(s)

    def run_rules(self, now: datetime) -> Any:
        with self.rules() as svc:
            return svc.run(now=now)

    def received(self, after_id: int = 0) -> list[tuple[int, datetime]]:
        """(id, received_at) of the customer events after an id."""
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Event.id, Event.received_at)
                .where(Event.id > after_id, Event.event.not_like("tag.%"))
                .order_by(Event.id)
            ).all()
        return [(int(i), r) for i, r in rows]

    def settled_now(self) -> datetime:
        """An evaluation time at which every event received so far is settled."""
        return max(r for _, r in self.received()) + timedelta(seconds=10)

    def set_received(self, event_ids: list[int], at: datetime) -> None:
        with self.ctx.db.session() as s:
            s.execute(update(Event).where(Event.id.in_(event_ids)).values(received_at=at))

    # --- reading ------------------------------------------------------------------------------
    def contact_ids(self) -> dict[str, int]:
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Identity.value, Identity.contact_id).where(Identity.type == "customer_no")
            ).all()
        return {str(v): int(c) for v, c in rows}

    def merged_into(self, cid: int) -> int | None:
        with self.ctx.db.session() as s:
            return s.scalar(select(Contact.merged_into_id).where(Contact.id == cid))

    def holdings(self) -> dict[tuple[int, str], tuple[float, str]]:
        """(contact, tag key) → (stored weight, source)."""
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(ContactTag.contact_id, Tag.key, ContactTag.weight, ContactTag.source).join(
                    Tag, Tag.id == ContactTag.tag_id
                )
            ).all()
        return {(int(c), str(k)): (float(w), str(src)) for c, k, w, src in rows}

    def changes(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(TagChange, Tag.key).join(Tag, Tag.id == TagChange.tag_id).order_by(TagChange.id)
            ).all()
        return [
            {
                "contact": c.contact_id,
                "tag": key,
                "action": c.action,
                "weight": c.weight,
                "source": c.source,
                "detail": c.detail,
                "at": c.at,
            }
            for c, key in rows
        ]

    def tag_events(self) -> list[tuple[int, str, dict[str, Any]]]:
        """(contact, event, properties) of every tag.added / tag.removed event, in id order."""
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Event.contact_id, Event.event, Event.properties, Event.type)
                .where(Event.event.in_(["tag.added", "tag.removed"]))
                .order_by(Event.id)
            ).all()
        assert all(r[3] == "track" for r in rows)
        return [(int(c), str(e), dict(p or {})) for c, e, p, _ in rows]

    def weights(self, cid: int, at: datetime) -> dict[str, float]:
        with self.tags() as svc:
            return {t["key"]: t["weight"] for t in svc.of(cid, at=at)}

    def cursor(self) -> int:
        with self.ctx.db.session() as s:
            row = s.get(Setting, "tags.rules_cursor")
            return int(row.value) if row else 0


@pytest.fixture
def kit(ctx: AppContext) -> Kit:
    return Kit(ctx)
