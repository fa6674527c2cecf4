"""Rule-based and keyword tagging: new events are matched against the enabled rules and the
resulting contributions applied in bulk (``source`` ``rule`` or ``keyword``).

The runner follows the system of record's events by id from a cursor kept in ``settings``.
On PostgreSQL concurrent transactions can commit ids out of order, so the runner stops at
events received more than :data:`SETTLE_SECONDS` ago: a transaction that took longer than that
to commit is the accepted gap (documented in docs/tags.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.segments.schemas import PropertyFilter
from siyu.store.engine import Database
from siyu.store.models import Event, TagRule, utcnow
from siyu.store.settings import get_setting, put_setting
from siyu.tags.repository import TagRepository
from siyu.tags.schemas import EventRule, KeywordRule, TagRuleCreate, check_key, validate
from siyu.tags.service import TagConflict, TagNotFound, TagService, decayed

CURSOR = "tags.rules_cursor"
SETTLE_SECONDS = 5
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_PLACEHOLDER = re.compile(r"\{([^{}]{1,128})\}")
_ASCII_WORD = re.compile(r"^[\x20-\x7e]+$")


# --- matching --------------------------------------------------------------------------------
def _text(value: Any) -> str | None:
    """The JSON text of a property value, as the warehouse's ``->>`` gives it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _typed(text: str | None, literal: Any) -> tuple[Any, Any]:
    """Comparable forms of a property text and a literal, like the segment compiler's."""
    if text is None:
        return None, None
    if isinstance(literal, bool):
        return text, "true" if literal else "false"
    if isinstance(literal, int | float):
        return _num(text), float(literal)
    if isinstance(literal, str) and _DATE.match(literal):
        try:
            return _naive(datetime.fromisoformat(text.replace("Z", "+00:00"))), _naive(
                datetime.fromisoformat(literal.replace("Z", "+00:00"))
            )
        except ValueError:
            return None, None
    return text, literal


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def property_matches(f: PropertyFilter, properties: dict[str, Any] | None) -> bool:
    """One filter against an event's properties; ``ne``/``not_in``/``not_set`` match a missing
    property (the segment language's semantics)."""
    text = _text((properties or {}).get(f.property))
    negate = f.op in ("ne", "not_in", "not_set")
    op = {"ne": "eq", "not_in": "in", "not_set": "is_set"}.get(f.op, f.op)
    return _positive(text, op, f.value) != negate


def _positive(text: str | None, op: str, value: Any) -> bool:
    if text is None:
        return False
    if op == "is_set":
        return True
    if op == "in":
        if isinstance(value[0], str):
            return text in value
        n = _num(text)
        return n is not None and n in {float(v) for v in value}
    if op == "contains":
        return value.lower() in text.lower()
    if op == "between":
        lhs, low = _typed(text, value[0])
        _, high = _typed(text, value[1])
        return lhs is not None and low <= lhs <= high
    lhs, rhs = _typed(text, value)
    if lhs is None:
        return False
    try:
        return {
            "eq": lhs == rhs,
            "lt": lhs < rhs,
            "lte": lhs <= rhs,
            "gt": lhs > rhs,
            "gte": lhs >= rhs,
        }[op]
    except TypeError:
        return False


class KeywordMatcher:
    """Chinese keywords are added to a private jieba dictionary so they segment as one word and
    match whole words only (``茶`` does not match inside ``茶几`` unless jieba splits it so);
    ASCII keywords match on word boundaries, case-insensitively."""

    def __init__(self, keywords: set[str]) -> None:
        self.ascii = {k for k in keywords if _ASCII_WORD.match(k)}
        self.cjk = keywords - self.ascii
        self._patterns = {k: re.compile(rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])") for k in self.ascii}

    @cached_property
    def tokenizer(self) -> Any:
        import jieba

        jieba.setLogLevel(60)
        tok = jieba.Tokenizer()
        for word in self.cjk:
            tok.add_word(word, freq=100_000)
        return tok

    def found(self, text: str) -> set[str]:
        lowered = text.lower()
        hits = {k for k, pat in self._patterns.items() if pat.search(lowered)}
        if self.cjk and any(ord(ch) > 0x2E7F for ch in lowered):
            tokens = set(self.tokenizer.lcut(lowered))  # precise mode: whole words only
            hits |= self.cjk & tokens
        return hits


# --- the runner ------------------------------------------------------------------------------
@dataclass
class RuleRun:
    events: int = 0
    matched: int = 0
    tags: dict[str, int] = field(default_factory=dict)
    cursor: int = 0


class TagRuleService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = TagRepository(session)
        self.tags = TagService(session)

    def create(self, raw: dict[str, Any], actor: str = "system") -> TagRule:
        spec = validate(TagRuleCreate, raw)
        if self.repo.rule(spec.name) is not None:
            raise TagConflict(f"tag rule {spec.name!r} already exists")
        rule = self.repo.add(
            TagRule(name=spec.name, kind=spec.rule.kind, spec=spec.rule.model_dump(mode="json"))
        )
        audit.record(self.session, actor, "tag_rule.created", "tag_rule", rule.id, {"name": spec.name})
        return rule

    def list(self) -> list[TagRule]:
        return self.repo.rules()

    def set_enabled(self, name: str, enabled: bool, actor: str = "system") -> TagRule:
        rule = self.repo.rule(name)
        if rule is None:
            raise TagNotFound(f"no tag rule {name!r}")
        rule.enabled = enabled
        audit.record(self.session, actor, "tag_rule.updated", "tag_rule", rule.id, {"enabled": enabled})
        return rule

    def _cursor(self) -> int:
        return int(get_setting(self.session, CURSOR) or 0)

    def _set_cursor(self, value: int) -> None:
        put_setting(self.session, CURSOR, value)

    def run(self, batch_size: int = 20_000, now: datetime | None = None) -> RuleRun:
        """Apply the enabled rules to events after the cursor (call repeatedly; it commits
        nothing itself)."""
        rules: list[EventRule | KeywordRule] = []
        for r in self.repo.rules(enabled_only=True):
            model = EventRule if r.kind == "event" else KeywordRule
            rules.append(model.model_validate(r.spec))
        result = RuleRun(cursor=self._cursor())
        if not rules:
            return result
        names = sorted({r.event for r in rules})
        horizon = (now or utcnow()) - timedelta(seconds=SETTLE_SECONDS)
        rows = self.session.execute(
            select(
                Event.id, Event.contact_id, Event.event, Event.properties, Event.timestamp, Event.received_at
            )
            .where(Event.id > result.cursor, Event.event.in_(names))
            .order_by(Event.id)
            .limit(batch_size)
        ).all()
        # Stop before the first event that may still have uncommitted neighbours below it.
        settled = next((i for i, r in enumerate(rows) if r[5] > horizon), len(rows))
        rows = rows[:settled]
        if not rows:
            return result
        matcher = KeywordMatcher({k for r in rules if isinstance(r, KeywordRule) for k in r.keywords})
        # (tag, source) → contact → (weight decayed to the latest time, latest time)
        found: dict[tuple[str, str, float | None], dict[int, tuple[float, datetime]]] = {}
        for _, contact_id, event, props, ts, _received in rows:
            for rule in rules:
                if rule.event != event:
                    continue
                for key, source in self._tags_for(rule, props or {}, matcher):
                    slot = found.setdefault((key, source, rule.half_life_days), {})
                    w, at = slot.get(contact_id, (0.0, ts))
                    if ts >= at:
                        w, at = decayed(w, at, ts, rule.half_life_days) + rule.weight, ts
                    else:
                        w += decayed(rule.weight, ts, at, rule.half_life_days)
                    slot[contact_id] = (w, at)
                    result.matched += 1
        for (key, source, half_life), items in found.items():
            res = self.tags.apply_weighted(
                key, dict(items), source, detail="rule", create=True, half_life_days=half_life
            )
            result.tags[key] = result.tags.get(key, 0) + res.added + res.reinforced
        result.events = len(rows)
        result.cursor = rows[-1][0]
        self._set_cursor(result.cursor)
        return result

    @staticmethod
    def _tags_for(
        rule: EventRule | KeywordRule, props: dict[str, Any], matcher: KeywordMatcher
    ) -> list[tuple[str, str]]:
        if isinstance(rule, KeywordRule):
            text = props.get(rule.property)
            if not isinstance(text, str) or not text:
                return []
            return [(rule.tag, "keyword")] if matcher.found(text) & set(rule.keywords) else []
        if not all(property_matches(f, props) for f in rule.where):
            return []
        tag = rule.tag
        for name in _PLACEHOLDER.findall(tag):
            value = _text(props.get(name))
            if value is None or not value.strip() or "/" in value:
                return []  # no usable value: no tag (a '/' would change the group)
            tag = tag.replace("{" + name + "}", value.strip())
        try:
            check_key(tag)
        except ValueError:
            return []  # a value that makes no valid tag (too long, control characters) is skipped
        return [(tag, "rule")]


def run_until_caught_up(db: Database, now: datetime | None = None) -> RuleRun:
    """Apply the rules batch after batch, each batch its own committed unit of work, until no
    settled event is left; returns the totals (the CLI, the API and ``siyu serve`` use this)."""
    total = RuleRun()
    while True:
        with db.sessionmaker() as s:
            run = TagRuleService(s).run(now=now)
            s.commit()
        total.events += run.events
        total.matched += run.matched
        for key, n in run.tags.items():
            total.tags[key] = total.tags.get(key, 0) + n
        total.cursor = run.cursor
        if run.events == 0:
            return total
