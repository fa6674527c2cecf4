"""A varied, seeded data set for the condition tests, and an independent model of the segment
language: what each condition should select, written from the documented semantics (docstrings
of ``siyu.segments``), evaluated in plain Python over what the builder sent. Nothing here calls
the compiler.
"""

from __future__ import annotations

import calendar
import operator
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson

from siyu.client import Siyu
from siyu.store.changes import emit_events, note_changed
from siyu.store.models import Segment, SegmentMember

SEED = 20250220
PEOPLE = 64
#: Events siyu writes itself (not customer activity), and the call types that are activity.
SYSTEM = {"tag.added", "tag.removed", "segment.entered", "segment.exited", "stage.changed"}
ACTIVITY = {"track", "page", "screen"}
CHANNELS = {"wecom": "wecom", "shop": "store", "ads": "ads"}
CODES = {"wc-a": "wecom", "wc-b": "wecom", "shop-1": "shop"}
HALF_LIVES = {"vip": None, "interest/tea": None, "interest/coffee": None, "engaged": 14.0}
RFM_SEGMENTS = ("champions", "loyal", "at_risk", "hibernating", "new")
STAGES = ("acquisition", "retention", "conversion", "repurchase", "advocacy", "dormant", "churned")
#: The ``from`` / ``to`` window the cases use, as naive UTC.
FROM = datetime(2025, 1, 1)
TO = datetime(2025, 1, 31, 16)  # "2025-02-01T00:00:00+08:00"
CMP = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
#: JSON's number syntax, nothing else (docs/segments.md), with the documented magnitude limits.
_NUMBER = re.compile(r"^-?(0|[1-9][0-9]{0,254})(\.[0-9]{1,255})?([eE][-+]?0*[0-9]{1,4})?$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([+-]\d{2}:?\d{2}|Z)?$")
MISSING: Any = object()


@dataclass
class Ev:
    type: str
    name: str | None
    props: dict[str, Any]
    at: datetime  # naive UTC


@dataclass
class Person:
    uid: str
    cid: int = 0
    attrs: dict[str, Any] = field(default_factory=dict)
    events: list[Ev] = field(default_factory=list)
    touches: list[tuple[datetime, str, str | None]] = field(default_factory=list)  # (at, channel, code)
    tags: dict[str, tuple[float, datetime]] = field(default_factory=dict)
    consent: list[tuple[str, str, bool, datetime]] = field(default_factory=list)  # in recording order
    stage: str | None = None
    rfm: tuple[int, int, int, str] | None = None
    other: bool = False


def naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


# --- value semantics -----------------------------------------------------------------------
def as_text(v: Any) -> str | None:
    """The text of a JSON value (missing and null: none)."""
    if v is None or v is MISSING:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int | float):
        return repr(v)
    return orjson.dumps(v).decode()


def to_number(t: str | None) -> float | None:
    if t is None or not _NUMBER.match(t):
        return None
    x = float(t)
    return None if abs(x) >= 1e308 else 0.0 if abs(x) < 1e-300 else x


def to_time(t: str | None) -> datetime | None:
    if t is None or not _ISO.match(t):
        return None
    try:
        return naive(datetime.fromisoformat(t.replace("Z", "+00:00")))
    except ValueError:
        return None


def literal_time(v: Any) -> datetime | None:
    return to_time(v) if isinstance(v, str) else None


def typed(t: str, value: Any) -> tuple[Any, Any]:
    """Booleans compare as ``true``/``false`` text, numbers as numbers, ISO dates as times."""
    if isinstance(value, bool):
        return t, "true" if value else "false"
    if isinstance(value, int | float):
        return to_number(t), float(value)
    if literal_time(value) is not None:
        return to_time(t), literal_time(value)
    return t, value


def positive(t: str | None, op: str, value: Any) -> bool:
    if op == "is_set":
        return t is not None
    if t is None:
        return False
    if op == "in":
        if isinstance(value[0], str):
            return t in value
        return to_number(t) in {float(v) for v in value}
    if op == "contains":
        return value.lower() in t.lower()
    if op == "between":
        lhs, low = typed(t, value[0])
        _, high = typed(t, value[1])
        return lhs is not None and low <= lhs <= high
    lhs, rhs = typed(t, value)
    return lhs is not None and CMP[op](lhs, rhs)


NEGATED = {"ne": "eq", "not_in": "in", "not_set": "is_set"}


def value_holds(t: str | None, op: str, value: Any) -> bool:
    """``ne``, ``not_in`` and ``not_set`` also hold for a missing value."""
    if op in NEGATED:
        return not positive(t, NEGATED[op], value)
    return positive(t, op, value)


def anniversary(day: date, today: date, days: int) -> bool:
    """Month and day fall in [today, today + days]; a 29 February is kept on the 28th of
    years without one."""
    for k in range(min(days, 800) + 1):
        d = today + timedelta(days=k)
        if (d.month, d.day) == (day.month, day.day):
            return True
        if (day.month, day.day) == (2, 29) and (d.month, d.day) == (2, 28) and not calendar.isleap(d.year):
            return True
    return False


def bound(v: str) -> datetime:
    return (
        datetime.combine(date.fromisoformat(v), time()) if len(v) == 10 else naive(datetime.fromisoformat(v))
    )


# --- the model -------------------------------------------------------------------------------
class World:
    def __init__(self, env: Any, as_of: datetime, people: list[Person]) -> None:
        self.env = env
        self.as_of = as_of
        self.people = people

    @property
    def everyone(self) -> list[int]:
        return sorted(p.cid for p in self.people)

    def expect(self, definition: dict[str, Any], as_of: datetime | None = None) -> list[int]:
        now = naive(as_of or self.as_of)
        return sorted(p.cid for p in self.people if self.holds(definition, p, now))

    def holds(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        kind = n["type"]
        if kind == "and":
            return all(self.holds(c, p, now) for c in n["conditions"])
        if kind == "or":
            return any(self.holds(c, p, now) for c in n["conditions"])
        if kind == "not":
            return not self.holds(n["condition"], p, now)
        return bool(getattr(self, f"leaf_{kind}")(n, p, now))

    def leaf_attribute(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        t = as_text(p.attrs.get(n["name"]))
        op, today = n["op"], now.date()
        if not op.endswith("_days"):
            return value_holds(t, op, n.get("value"))
        at = to_time(t)
        if at is None:
            return False
        if op == "anniversary_within_days":
            return anniversary(at.date(), today, n["days"])
        lo, hi = (
            (today - timedelta(days=n["days"]), today)
            if op == "within_last_days"
            else (today, today + timedelta(days=n["days"]))
        )
        return datetime.combine(lo, time()) <= at < datetime.combine(hi + timedelta(days=1), time())

    def leaf_tags(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        def qualifies(key: str) -> bool:
            if key not in p.tags:
                return False
            weight, at = p.tags[key]
            if n.get("min_weight") is None:
                return True
            hl = HALF_LIVES[key]
            if hl is None:
                return weight >= n["min_weight"]
            eff = weight * 0.5 ** ((now - at).total_seconds() / 86_400 / hl)
            assert abs(eff - n["min_weight"]) > 1e-9, f"ambiguous data: {p.uid} {key} weighs {eff}"
            return eff >= n["min_weight"]

        held = [qualifies(k) for k in dict.fromkeys(n["tags"])]
        return {"any": any(held), "all": all(held), "none": not any(held)}[n.get("match", "any")]

    def leaf_event(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        w = n.get("within")
        lo = hi = None
        if w is not None and "days" not in w:
            lo = bound(w["from"]) if "from" in w else None
            hi = bound(w["to"]) if "to" in w else None

        def matches(e: Ev) -> bool:
            if n["event"] == "*":
                if e.type not in ACTIVITY or e.name in SYSTEM:
                    return False
            elif e.name != n["event"]:
                return False
            if not all(
                value_holds(as_text(e.props.get(f["property"])), f["op"], f.get("value"))
                for f in n.get("where", [])
            ):
                return False
            if w is None:
                return True
            if "days" in w:
                return now - timedelta(days=w["days"]) <= e.at <= now
            return (lo is None or e.at >= lo) and (hi is None or e.at < hi)

        found = [e for e in p.events if matches(e)]
        for m in ("sum", "avg"):
            if m in n:
                amounts = [
                    x for e in found if (x := to_number(as_text(e.props.get(n[m]["property"])))) is not None
                ]
                if m == "avg" and not amounts:
                    return False
                total = sum(amounts) if m == "sum" else sum(amounts) / len(amounts)
                return CMP[n[m]["op"]](total, float(n[m]["value"]))
        for m, pick in (("first", min), ("last", max)):
            if m in n:
                if not found:
                    return False
                at = pick(e.at for e in found)
                when = n[m]
                limit = now - timedelta(days=when["days_ago"]) if "days_ago" in when else bound(when["date"])
                return at < limit if when["op"] == "before" else at > limit
        count = n.get("count", {})
        return CMP[count.get("op", "gte")](len(found), count.get("value", 1))

    def leaf_channel(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        return any(ch in n["channels"] for _, ch, _ in p.touches)

    def leaf_first_touch(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        if not p.touches:
            return False
        _, channel, code = min(p.touches)
        ok = n.get("channels") is None or channel in n["channels"]
        return ok and (n.get("entry_codes") is None or code in n["entry_codes"])

    def leaf_consent(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        channel = n.get("channel", "*")

        def on(ch: str) -> bool | None:  # a send on channel ``ch``: its newest record or ``*``'s
            recs = [
                (at, i, g)
                for i, (pu, c, g, at) in enumerate(p.consent)
                if pu == n["purpose"] and c in (ch, "*")
            ]
            return max(recs)[2] if recs else None

        if channel != "*":
            newest = on(channel)
        else:
            # Every channel the contact answered, plus one it never named (only ``*`` speaks
            # for it): granted if all that have an answer grant, withdrawn if any withdraws.
            named = {c for pu, c, _, _ in p.consent if pu == n["purpose"] and c != "*"}
            answers = [a for a in (on(c) for c in [*named, "\x00never-named"]) if a is not None]
            newest = None if not answers else all(answers)
        return {
            "granted": newest is True,
            "withdrawn": newest is False,
            "unknown": newest is None,
            "not_granted": newest is not True,
        }[n.get("state", "granted")]

    def leaf_stage(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        return p.stage in n["stages"]

    def leaf_rfm(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        if p.rfm is None:
            return False
        r, f, m, seg = p.rfm
        if n.get("segments") and seg not in n["segments"]:
            return False
        return all(n.get(k) is None or n[k][0] <= v <= n[k][1] for k, v in (("r", r), ("f", f), ("m", m)))

    def leaf_segment(self, n: dict[str, Any], p: Person, now: datetime) -> bool:
        assert n["segment"] == "other"
        return p.other == n.get("member", True)


# --- the data set ----------------------------------------------------------------------------
def _attrs(rng: random.Random, today: date) -> dict[str, Any]:
    near = today + timedelta(days=rng.randint(-3, 12))
    options: dict[str, list[Any]] = {
        "plan": ["gold", "silver", "Gold", "bronze", MISSING],
        "age": [rng.randint(16, 80), rng.randint(16, 80), 40, 42, 30, "42", "n/a", MISSING],
        "score": [rng.randint(0, 400) / 4, 50.5, 25.25, MISSING],
        "vip": [True, False, MISSING],
        "city": ["Shanghai", "上海", "Beijing", "shanghai pudong", "北京", "São Paulo", MISSING],
        "nickname": ["O'Brien", 'say "hi"', "'; DROP TABLE events; --", "Zoë", "zoë", MISSING],
        "signup": [
            (today + timedelta(days=rng.randint(-60, 30))).isoformat(),
            f"{today + timedelta(days=rng.randint(-60, 30))}T{rng.randint(0, 23):02d}:30:00Z",
            "soon",
            MISSING,
        ],
        "birthday": [
            f"{rng.randint(1970, 2000)}-{near.month:02d}-{near.day:02d}",
            f"{rng.randint(1970, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            rng.choice(["1992-02-29", "2000-02-29"]),
            f"{rng.randint(1970, 2000)}-02-28",
            MISSING,
        ],
        "interests": [["tea"], ["coffee"], ["tea", "coffee"], MISSING],
    }
    picked = {k: rng.choice(v) for k, v in options.items()}
    return {k: v for k, v in picked.items() if v is not MISSING}


def _order(rng: random.Random) -> dict[str, Any]:
    amount = rng.choice(
        [
            rng.randint(1, 200),
            rng.randint(4, 800) / 4,
            str(rng.randint(4, 800) / 4),
            "abc",
            "12kg",
            MISSING,
            None,
            True,
        ]
    )
    props = {
        "amount": amount,
        "currency": rng.choice(["CNY", "USD", MISSING]),
        "sku": rng.choice(["A1", "A2", "A3"]),
    }
    return {k: v for k, v in props.items() if v is not MISSING}


def _people(rng: random.Random, as_of: datetime) -> list[Person]:
    now, today = naive(as_of), as_of.date()
    people = []
    for i in range(PEOPLE):
        p = Person(uid=f"cust-{i:03d}", attrs=_attrs(rng, today) if i % 9 else {})
        for k in range(rng.choice([0, 1, 3, 5, 8, 10])):
            at = now + timedelta(minutes=rng.randint(-120 * 1440, 20 * 1440), seconds=k)
            kind = rng.choices(["order", "page", "screen", "signup", "touch"], [40, 25, 10, 10, 15])[0]
            if kind == "order":
                p.events.append(Ev("track", "Order Completed", _order(rng), at))
            elif kind == "page":
                p.events.append(Ev("page", "Product", {"path": f"/p/{rng.randint(1, 5)}"}, at))
            elif kind == "screen":
                p.events.append(Ev("screen", "Cart", {}, at))
            elif kind == "signup":
                p.events.append(Ev("track", "Signed Up", {"plan": rng.choice(["gold", "basic"])}, at))
            else:
                code = rng.choice([*CODES, None])
                p.events.append(Ev("track", "Code Scanned", {}, at))
                p.touches.append((at, CODES[code] if code else "ads", code))
        for key, hl in HALF_LIVES.items():
            if rng.random() < 0.35:
                weight = rng.choice([0.25, 0.5, 1.0, 2.0, 4.0] if hl is None else [0.3, 0.75, 1.5, 3.0, 5.0])
                p.tags[key] = (weight, now - timedelta(hours=rng.randint(-48, 60 * 24), minutes=17))
        for _ in range(rng.choice([0, 1, 2, 3, 4])):
            at = now + timedelta(hours=rng.randint(-90 * 24, 10 * 24))
            if p.consent and rng.random() < 0.3:
                at = p.consent[-1][3]  # a tie: the later record wins
            purpose = rng.choice(["marketing", "marketing", "service"])
            p.consent.append((purpose, rng.choice(["*", "sms", "wecom"]), rng.random() < 0.5, at))
        p.stage = rng.choice([*STAGES, None, None])
        if rng.random() < 0.7:
            p.rfm = (rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 5), rng.choice(RFM_SEGMENTS))
        p.other = rng.random() < 0.4
        people.append(p)
    # Events exactly on the window edges: within.days bounds are inclusive, ``to`` is not.
    edges = [now - timedelta(days=30), now - timedelta(days=7), now, FROM, TO, now + timedelta(seconds=1)]
    for i, at in enumerate(edges):
        people[i].events.append(Ev("track", "Order Completed", {"amount": 10, "currency": "CNY"}, at))
    # Dates exactly on the edges of the relative attribute windows (whole days of as_of).
    for i, d in (
        (20, f"{today}T23:00:00Z"),
        (21, f"{today - timedelta(days=30)}"),
        (22, f"{today + timedelta(days=10)}T00:00:00Z"),
    ):
        people[i].attrs["signup"] = d
    people[23].attrs["signup"] = f"{today + timedelta(days=11)}"
    people[24].tags.update(
        vip=(1.0, now - timedelta(days=1)), engaged=(3.0, now - timedelta(days=1, hours=3))
    )
    # Only one event, exactly on the threshold of a strict first/last comparison.
    for p, at in zip(
        people[60:],
        (now - timedelta(days=30), datetime(2024, 12, 1), now - timedelta(days=60), TO + timedelta(days=9)),
        strict=True,
    ):
        p.events, p.touches = [Ev("track", "Order Completed", {"amount": 5}, at)], []
    for p in people[10:15]:
        p.events.append(Ev("track", "tag.added", {"tag": "vip"}, now - timedelta(days=2)))
    return people


def build_world(env: Any, as_of: datetime) -> World:
    rng = random.Random(SEED)
    people = _people(rng, as_of)
    s = Siyu(env.ctx)
    for key, kind in CHANNELS.items():
        s.create_channel(key, kind)
    for code, channel in CODES.items():
        s.create_entry_code(channel, code)
    calls = []
    for i, p in enumerate(people):
        calls.append(env.call("identify", p.uid, as_of - timedelta(days=200, seconds=i), traits=p.attrs))
        for e in p.events:
            if e.name in SYSTEM:
                continue
            touch = next((t for t in p.touches if t[0] == e.at), None)
            context = {}
            if touch is not None:
                context = {"state": touch[2]} if touch[2] else {"campaign": {"source": "ads"}}
            name = {"event": e.name} if e.type == "track" else {"name": e.name}
            calls.append(
                env.call(e.type, p.uid, e.at.replace(tzinfo=UTC), properties=e.props, context=context, **name)
            )
        p.events.append(
            Ev("identify", None, {"traits": p.attrs}, naive(as_of - timedelta(days=200, seconds=i)))
        )
    env.batch(calls)
    ids = env.contact_ids()
    for p in people:
        p.cid = ids[p.uid]
    with env.session() as session:
        for p in people:
            for e in p.events:
                if e.name in SYSTEM:
                    emit_events(
                        session, e.name, [(f"sys-{p.uid}-{e.at}", p.cid, e.props)], e.at.replace(tzinfo=UTC)
                    )
    env.add_tags(
        [(p.cid, k, w, at.replace(tzinfo=UTC)) for p in people for k, (w, at) in p.tags.items()],
        {k: hl for k, hl in HALF_LIVES.items() if hl},
    )
    env.consent([(p.cid, pu, ch, g, at.replace(tzinfo=UTC)) for p in people for pu, ch, g, at in p.consent])
    env.stages({p.cid: p.stage for p in people if p.stage})
    env.rfm({p.cid: p.rfm for p in people if p.rfm})
    with env.session() as session:
        seg = Segment(
            key="other",
            name="Other",
            kind="static",
            definition={"type": "stage", "stages": ["dormant"]},
            cursor={},
        )
        session.add(seg)
        session.flush()
        members = [p.cid for p in people if p.other]
        session.add_all(SegmentMember(segment_id=seg.id, contact_id=c, entered_at=as_of) for c in members)
        note_changed(session, members)
    return World(env, as_of, people)
