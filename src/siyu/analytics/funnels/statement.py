"""The funnel statement: one query per funnel, written once for DuckDB and PostgreSQL.

Shape (docs/analytics/funnels.md has the definitions):

1. ``ev``: the events in [from, to + window), filtered early to the rows a step or exclusion
   matches (strict mode also keeps every activity event, since any event breaks a strict
   sequence), with a flag per step (``m1`` …) and per exclusion (``x1`` …). PostgreSQL
   materialises it (one scan); DuckDB inlines it into each step's read, where the step's
   ``event = …`` is pushed into the scan, which is faster there than materialising.
2. ``cand``: candidate conversions, one row per entry (per entry and block size in strict mode),
   with the time each step was reached (``c1`` … ``cn``, NULL when not reached in the window):

   * sequential: from each step-1 row, the greedy chain: step j is the first step-j row at or
     after step j-1. Taking the earliest next step never hurts (any later choice leaves a subset of
     the options), so greedy is exact. The lookup is an ASOF join on DuckDB (a sorted merge, no
     row explosion); PostgreSQL has no ASOF join, so there the same "first row at or after" is a
     running count over the union of both sides joined back on the count (``_lookup``). When
     step j has the same event as an earlier step, one event could serve both: the lookup then
     orders rows by (timestamp, id) and starts after the ids the chain already used at that same
     timestamp.
   * strict: events grouped by instant (contact, timestamp); the events of an instant come in any
     order. A chain leaves its entry instant from a block of steps at the instant's end, passes
     through following instants that hold exactly the next steps, and may end at an instant that
     starts with the next steps. Only instants holding a step event are read, each with the
     instant of the contact's next event (``_lookup`` again): the chain goes on only to that one.
     Every block size at the entry instant is tried (``p``); steps with the same definition form
     a class, and an instant serves a block when it has enough events of every class.
   * any_order: from each step row, the first occurrence of every step at or after it; the
     steps found within the window, sorted by time, give the completion times.
3. Per contact the counted candidate (furthest step, then earliest completion of it, then the
   latest start, then ``tb``); contacts whose counted candidate has an exclusion event in its
   range are dropped; counts, median and average seconds between consecutive steps, per
   breakdown value with ``GROUPING SETS`` (the totals come from the same scan).

The randomised test (tests/analytics/test_funnels_reference.py) checks all of this against a
brute-force reading of the definitions that tries every order of tied events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, literal_column, or_
from sqlalchemy.sql.elements import ColumnElement

from siyu.analytics.activity.base import ANY_EVENT, event_conditions
from siyu.analytics.funnels.sqltext import SqlText
from siyu.analytics.sql import interval_literal
from siyu.segments.schemas import PropertyFilter
from siyu.warehouse.query import ATTRIBUTES, EVENTS, AgeSeconds, JsonText

EPOCH = datetime(1970, 1, 1)
#: Block sizes and chain depth of strict mode grow with the number of steps.
MAX_STEPS = 20


@dataclass(frozen=True)
class EventDef:
    event: str
    where: tuple[PropertyFilter, ...] = ()


@dataclass(frozen=True)
class Exclusion:
    what: EventDef
    #: 1-based steps: excluded when the event falls after step ``after`` and before ``before``.
    after: int
    before: int


@dataclass(frozen=True)
class FunnelQuery:
    steps: tuple[EventDef, ...]
    mode: str
    window_s: int
    lo: datetime
    hi: datetime
    exclusions: tuple[Exclusion, ...] = ()
    #: None, ("first_channel",) or ("attribute", name)
    breakdown: tuple[str, ...] | None = None
    breakdown_limit: int = 25

    @property
    def n(self) -> int:
        return len(self.steps)

    def shares(self, i: int, j: int) -> bool:
        """Whether one event could match steps i and j (0-based): same name, or "any event"."""
        a, b = self.steps[i].event, self.steps[j].event
        return a == b or ANY_EVENT in (a, b)


def condition(what: EventDef) -> ColumnElement[bool]:
    return and_(*event_conditions(what.event, what.where))


def funnel_sql(q: SqlText, f: FunnelQuery) -> str:
    """The whole statement; its result has one row (or one per breakdown value plus the total)."""
    win = interval_literal(f.window_s)
    ctes = [("ev", _events(q, f))]
    if f.mode == "sequential":
        ctes += _sequential(q, f, win)
    elif f.mode == "strict":
        ctes += _strict(q, f, win)
    else:
        ctes += _any_order(q, f, win)
    ctes += _counted(q, f, win)
    body, select = _aggregate(q, f)
    ctes += body
    # DuckDB would materialise `ev` (it is read once per step); inlined, each step's scan keeps
    # only that step's rows, which is faster. PostgreSQL materialises it, reading events once.
    inline = " NOT MATERIALIZED" if q.duckdb and f.mode != "strict" else ""
    parts = [f"{name} AS{inline if name == 'ev' else ''} (\n{sql}\n)" for name, sql in ctes]
    return "WITH " + ",\n".join(parts) + "\n" + select


def _events(q: SqlText, f: FunnelQuery) -> str:
    # Flags are the bare conditions (NULL counts as false wherever they are used), so that
    # DuckDB can push a step's `event = …` into the scan when the CTE is inlined.
    cols = ["contact_id AS cid", "timestamp AS ts", "id"]
    cols += [f"{q.expr(condition(s))} AS m{j}" for j, s in enumerate(f.steps, 1)]
    cols += [f"{q.expr(condition(x.what))} AS x{i}" for i, x in enumerate(f.exclusions, 1)]
    wanted = [*f.steps, *(x.what for x in f.exclusions)]
    where = [f"timestamp >= {q.bind(f.lo)}", f"timestamp < {q.bind(f.hi)} + {interval_literal(f.window_s)}"]
    if f.mode == "strict":
        cols.append(f"{q.expr(and_(*event_conditions(ANY_EVENT)))} AS act")
        wanted.append(EventDef(ANY_EVENT))
    names = {w.event for w in wanted}
    if ANY_EVENT not in names:
        # A plain IN list the scan can use before evaluating any property filter.
        where.append(q.expr(EVENTS.c.event.in_(sorted(names))))
    if any(w.where for w in wanted) or ANY_EVENT in names:
        where.append(f"({q.expr(or_(*(condition(w) for w in wanted)))})")
    return f"SELECT {', '.join(cols)}\nFROM events\nWHERE " + "\n  AND ".join(where)


# --- "the first row at or after" (SQL differs per engine) ------------------------------------------
def _lookup(
    q: SqlText, name: str, prev: str, flag: str, bt: str, bi: str | None, out: int, win: str, ids: bool
) -> list[tuple[str, str]]:
    """``name`` = ``prev`` plus ``c{out}`` (and ``i{out}`` when ``ids``): time (and id) of the
    first ``ev`` row with ``flag`` whose (timestamp[, id]) is at or after (``bt``[, ``bi``]), NULL
    when there is none within the window of the row's entry (``c1``). ``bi`` None compares
    timestamps only."""
    within = f"s.t <= p.c1 + {win}"
    picked = f"CASE WHEN {within} THEN s.t END AS c{out}"
    if ids:
        picked += f", CASE WHEN {within} THEN s.i END AS i{out}"
    if q.duckdb and bi is None:
        return [
            (
                name,
                f"SELECT p.*, {picked}\nFROM {prev} p ASOF LEFT JOIN "
                f"(SELECT cid, ts AS t{', id AS i' if ids else ''} FROM ev WHERE {flag}) s\n"
                f"  ON p.cid = s.cid AND p.{bt} <= s.t",
            )
        ]
    if q.duckdb:
        return [
            (
                name,
                f"SELECT p.*, {picked}\nFROM (SELECT *, CASE WHEN {bt} IS NOT NULL THEN "
                f"struct_pack(t := {bt}, i := {bi}) END AS b{out} FROM {prev}) p\n"
                f"ASOF LEFT JOIN (SELECT cid, ts AS t, id AS i, struct_pack(t := ts, i := id) AS k "
                f"FROM ev WHERE {flag}) s\n  ON p.cid = s.cid AND p.b{out} <= s.k",
            )
        ]
    # PostgreSQL: both sides in one ordering (a bound sorts before a row with the same key, so
    # "at or after" includes it); the running count of rows up to a bound is the rank of the
    # row it finds.
    bi = bi or "CAST(-1 AS BIGINT)"
    return [
        (
            f"{name}_u",
            f"SELECT cid, {bt} AS t, {bi} AS i, 0 AS side, i1 AS rid FROM {prev} WHERE {bt} IS NOT NULL\n"
            f"UNION ALL SELECT cid, ts, id, 1, CAST(NULL AS BIGINT) FROM ev WHERE {flag}",
        ),
        (
            f"{name}_r",
            "SELECT side, rid, cid, t, i, count(*) FILTER (WHERE side = 1) OVER "
            f"(PARTITION BY cid ORDER BY t, i, side ROWS UNBOUNDED PRECEDING) AS n FROM {name}_u",
        ),
        (
            name,
            f"SELECT p.*, {picked}\nFROM {prev} p\n"
            f"LEFT JOIN {name}_r l ON l.side = 0 AND l.rid = p.i1\n"
            f"LEFT JOIN {name}_r s ON s.side = 1 AND s.cid = l.cid AND s.n = l.n + 1",
        ),
    ]


# --- candidates per mode ------------------------------------------------------------------------
def _sequential(q: SqlText, f: FunnelQuery, win: str) -> list[tuple[str, str]]:
    # Ids are carried only where a later step has the same event (and on PostgreSQL, where the
    # entry's id keys the lookups).
    ids = [any(f.shares(j, k) for k in range(j + 1, f.n)) for j in range(f.n)]
    first_id = ", id AS i1" if ids[0] or not q.duckdb else ""
    ctes = [("e1", f"SELECT cid, ts AS c1{first_id} FROM ev WHERE m1 AND ts < {q.bind(f.hi)}")]
    for j in range(2, f.n + 1):
        same = [i for i in range(1, j) if f.shares(i - 1, j - 1)]
        bi = None
        if same:
            # Rows the chain used at the previous step's timestamp come before the bound.
            used = ", ".join(f"CASE WHEN c{i} = c{j - 1} THEN i{i} + 1 END" for i in same)
            bi = f"GREATEST(CAST(-1 AS BIGINT), {used})"
        ctes += _lookup(q, f"e{j}", f"e{j - 1}", f"m{j}", f"c{j - 1}", bi, j, win, ids[j - 1])
    cols = ", ".join(f"c{j}" for j in range(1, f.n + 1))
    # tb: of two step-1 events at one instant, the first (by id) can take the other as a later
    # step, so its chain is never worse.
    tb = ", -i1 AS tb" if ids[0] else ""
    ctes.append(("cand", f"SELECT cid, {cols}{tb} FROM e{f.n}"))
    return ctes


def _any_order(q: SqlText, f: FunnelQuery, win: str) -> list[tuple[str, str]]:
    any_step = " OR ".join(f"m{j}" for j in range(1, f.n + 1))
    # The entry row is the start of the window; f{j} is where step j first occurs from there.
    first_id = "" if q.duckdb else ", id AS i1"
    ctes = [("a0", f"SELECT cid, ts AS c1{first_id} FROM ev WHERE ({any_step}) AND ts < {q.bind(f.hi)}")]
    for j in range(1, f.n + 1):
        ctes += _lookup(q, f"a{j}", f"a{j - 1}", f"m{j}", "c1", None, 100 + j, win, False)
    n = f.n
    # r{j}: how many steps occur no later than step j (its rank among the occurrences).
    before = "CASE WHEN c{} <= c{} THEN 1 ELSE 0 END"
    ranks = ", ".join(
        " + ".join(before.format(100 + i, 100 + j) for i in range(1, n + 1)) + f" AS r{j}"
        for j in range(1, n + 1)
    )
    times = ", ".join(
        f"LEAST({', '.join(f'CASE WHEN r{j} >= {m} THEN c{100 + j} END' for j in range(1, n + 1))}) AS c{m}"
        for m in range(1, n + 1)
    )
    ctes.append(("cand", f"SELECT cid, {times} FROM (SELECT *, {ranks} FROM a{n}) z"))
    return ctes


def _classes(f: FunnelQuery) -> list[int]:
    """Per step, the first step with the same definition: steps of one class match the same
    events (View → View → Order has two steps of class 1)."""
    return [next(i for i in range(j + 1) if f.steps[i] == s) + 1 for j, s in enumerate(f.steps)]


def _run(f: FunnelQuery, cls: list[int], x: int, d: int) -> str:
    """How many steps from step ``x`` on group ``d``'s events can serve, one event each: class
    c allows the block to grow until the (q+1)-th step of class c, q being the group's events of
    that class; and never beyond the group's step events (an event in two classes serves one)."""
    n, terms = f.n, [f"n{d}"]
    for c in sorted(set(cls[x - 1 :])):
        at = [j for j in range(x, n + 1) if cls[j - 1] == c]
        whens = " ".join(f"WHEN {i} THEN {pos - x}" for i, pos in enumerate(at))
        terms.append(f"CASE q{c}_{d} {whens} ELSE {n - x + 1} END")
    return f"LEAST({', '.join(terms)})"


def _strict(q: SqlText, f: FunnelQuery, win: str) -> list[tuple[str, str]]:
    n, cls = f.n, _classes(f)
    classes = sorted(set(cls))
    hi = q.bind(f.hi)
    any_step = " OR ".join(f"m{j}" for j in range(1, n + 1))
    per_class = ", ".join(f"count(*) FILTER (WHERE m{c}) AS q{c}_0" for c in classes)
    # Only instants with a step event matter, and for each the instant of the contact's next
    # event (a chain passes on only to that one): the window runs over step instants, not over
    # every event.
    who = f"cid IN (SELECT cid FROM ev WHERE m1 AND ts < {hi})"
    rid = "" if q.duckdb else ", row_number() OVER () AS i1"
    ctes = [
        # Per (contact, instant) with step events: step events (n), events of each class (q).
        (
            "sg0",
            f"SELECT cid, ts, count(*) AS n, {per_class}\n"
            f"FROM ev WHERE ({any_step}) AND {who}\nGROUP BY cid, ts",
        ),
        # Other activity at those instants (a chain cannot pass through an instant holding one).
        (
            "so",
            "SELECT e.cid, e.ts, count(*) AS o FROM ev e JOIN sg0 g ON g.cid = e.cid AND g.ts = e.ts\n"
            f"WHERE e.act AND NOT COALESCE({' OR '.join(f'e.m{j}' for j in range(1, n + 1))}, FALSE)"
            "\nGROUP BY e.cid, e.ts",
        ),
        (
            "sg",
            "SELECT g.*, g.n + COALESCE(so.o, 0) AS z, g.ts AS c1, "
            f"g.ts + INTERVAL '1 microsecond' AS b{rid}\n"
            "FROM sg0 g LEFT JOIN so ON so.cid = g.cid AND so.ts = g.ts",
        ),
    ]
    # c0: the instant of the next event after the group (any activity or step event).
    ctes += _lookup(q, "sgn", "sg", f"(act OR {any_step}) AND {who}", "b", None, 0, win, False)
    cols = [("ts", "t"), ("z", "z"), ("n", "n"), ("c0", "nt")] + [(f"q{c}_0", f"q{c}_") for c in classes]
    leads = ", ".join(f"lead({c}, {d}) OVER w AS {a}{d}" for d in range(1, n) for c, a in cols)
    base = ", ".join(["n AS n0", "c0 AS nt0"] + [f"q{c}_0" for c in classes])
    ctes.append(
        ("sl", f"SELECT cid, ts AS t0, {base}, {leads}\nFROM sgn WINDOW w AS (PARTITION BY cid ORDER BY ts)")
    )
    # p + 1 steps at the end of the entry group: steps 1 … p+1 must be served by its events.
    ps = ", ".join(f"({p})" for p in range(n))
    ctes.append(
        (
            "st0",
            f"SELECT sl.*, p.p, p.p + 2 AS x0, p.p + 1 AS r0, TRUE AS a0\nFROM sl, (VALUES {ps}) AS p(p)\n"
            f"WHERE t0 < {hi} AND {_run(f, cls, 1, 0)} > p.p",
        )
    )
    for d in range(1, n):
        # x: the next step wanted; r: steps reached so far; a: the chain may go on (every group
        # so far consisted of exactly the steps it served); g: group d is the next instant and
        # within the window; u: steps group d serves from x on.
        runs = " ".join(f"WHEN {x} THEN {_run(f, cls, x, d)}" for x in range(2, n + 1))
        inner = (
            f"SELECT *, COALESCE(a{d - 1} AND x{d - 1} <= {n} AND t{d} = nt{d - 1} AND t{d} <= t0 + {win}, "
            f"FALSE) AS g{d}, CASE x{d - 1} {runs} ELSE 0 END AS u{d} FROM st{d - 1}"
        )
        ctes.append(
            (
                f"st{d}",
                f"SELECT *, CASE WHEN g{d} THEN x{d - 1} - 1 + u{d} ELSE r{d - 1} END AS r{d},\n"
                f"  COALESCE(g{d} AND n{d} = z{d} AND u{d} >= z{d}, FALSE) AS a{d}, x{d - 1} + z{d} AS x{d}\n"
                f"FROM ({inner}) q",
            )
        )
    times = []
    for m in range(2, n + 1):
        whens = " ".join(f"WHEN r{d} >= {m} THEN t{d}" for d in range(n))
        times.append(f"CASE {whens} END AS c{m}")
    # tb: among the block sizes that reach as far as fast, the largest has the earliest steps.
    ctes.append(("cand", f"SELECT cid, t0 AS c1, {', '.join(times)}, p AS tb FROM st{n - 1}"))
    return ctes


# --- the counted candidate per contact, exclusions ------------------------------------------------
def _counted(q: SqlText, f: FunnelQuery, win: str) -> list[tuple[str, str]]:
    n = f.n
    reached = " + ".join(["1"] + [f"CASE WHEN c{j} IS NULL THEN 0 ELSE 1 END" for j in range(2, n + 1)])
    at_k = " ".join(f"WHEN {j} THEN c{j}" for j in range(1, n + 1))
    cs = ", ".join(f"c{j}" for j in range(1, n + 1))
    ctes = [
        (
            "sc",
            f"SELECT cid, {cs}, k, CASE k {at_k} END AS ck{', tb' if _tiebreak(f) else ''} "
            f"FROM (SELECT *, {reached} AS k FROM cand) z",
        ),
        ("best", _best(q, f, cs)),
    ]
    tests = []
    for i, x in enumerate(f.exclusions, 1):
        tests.append(
            f"EXISTS (SELECT 1 FROM ev WHERE ev.cid = b.cid AND ev.x{i} AND ev.ts > b.c{x.after}\n"
            f"    AND (ev.ts < b.c{x.before} OR (b.c{x.before} IS NULL AND ev.ts <= b.c1 + {win})))"
        )
    keep = f" WHERE NOT ({' OR '.join(tests)})" if tests else ""
    ctes.append(("kept", f"SELECT * FROM best b{keep}"))
    return ctes


def _tiebreak(f: FunnelQuery) -> bool:
    """Whether candidates carry ``tb``, which orders those equal on (k, ck, c1) so that the
    counted one has the earliest intermediate steps: strict mode (the block size in the entry
    group) and sequential funnels whose first step's event is also a later step's (the entry id)."""
    return f.mode == "strict" or (f.mode == "sequential" and any(f.shares(0, j) for j in range(1, f.n)))


def _best(q: SqlText, f: FunnelQuery, cs: str) -> str:
    """Per contact, the candidate with the furthest step; then the earliest time it was reached;
    then the latest start; then ``tb`` (see ``_tiebreak``)."""
    tiebreak = _tiebreak(f)
    if not q.duckdb:
        tb = ", tb DESC" if tiebreak else ""
        return f"SELECT DISTINCT ON (cid) cid, k, {cs} FROM sc ORDER BY cid, k DESC, ck, c1 DESC{tb}"
    # DuckDB: one hash aggregate, arg_max by the three keys packed into one HUGEINT (times in
    # microseconds from `from`, 50 bits each: the range and window are bounded to fit).
    lo = (f.lo - EPOCH) // timedelta(microseconds=1)
    key = (
        f"(CAST(k AS HUGEINT) << 100) - (CAST(epoch_us(ck) - {lo} AS HUGEINT) << 50)"
        f" + CAST(epoch_us(c1) - {lo} AS HUGEINT)"
    )
    names = cs.split(", ")
    keyed = f"(SELECT *, {key} AS key FROM sc) z"
    shared = any(f.shares(i, j) for i in range(f.n) for j in range(i + 1, f.n))
    if f.mode == "any_order" or (f.mode == "sequential" and not shared):
        # Candidates with equal keys start at the same time and find the same rows, so each
        # column may come from any of them: one arg_max per column is cheaper than a struct.
        picked = ", ".join(f"arg_max({c}, key) AS {c}" for c in names)
        return f"SELECT cid, max(k) AS k, {picked} FROM {keyed} GROUP BY cid"
    by = "struct_pack(a := key, b := tb)" if tiebreak else "key"
    packed = ", ".join(f"{c} := {c}" for c in ["k", *names])
    picked = ", ".join(f"s.{c} AS {c}" for c in ["k", *names])
    best = f"SELECT cid, arg_max(struct_pack({packed}), {by}) AS s FROM {keyed} GROUP BY cid"
    return f"SELECT cid, {picked} FROM ({best}) b"


def _aggregate(q: SqlText, f: FunnelQuery) -> tuple[list[tuple[str, str]], str]:
    n = f.n
    gaps = ", ".join(
        f"{q.expr(AgeSeconds(literal_column(f'c{j - 1}'), literal_column(f'c{j}')))} AS d{j}"
        for j in range(2, n + 1)
    )
    aggs = ["count(*) AS n1"]
    for j in range(2, n + 1):
        aggs += [
            f"count(c{j}) AS n{j}",
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY d{j}) AS med{j}",
            f"avg(d{j}) AS avg{j}",
        ]
    if f.breakdown is None:
        return [], f"SELECT {', '.join(aggs)}\nFROM (SELECT *, {gaps} FROM kept) q"
    if f.breakdown[0] == "first_channel":
        value = "CAST(c.first_channel_id AS VARCHAR)"
        join = "LEFT JOIN contacts c ON c.id = kept.cid"
    else:
        text = q.expr(JsonText(ATTRIBUTES.c.value))
        join = (
            f"LEFT JOIN (SELECT contact_id, max({text}) AS v FROM contact_attributes "
            f"WHERE name = {q.bind(f.breakdown[1])} GROUP BY contact_id) a ON a.contact_id = kept.cid"
        )
        value = "a.v"
    limit = q.bind(f.breakdown_limit)
    body = [
        ("bk", f"SELECT kept.*, {value} AS bv FROM kept {join}"),
        ("vals", "SELECT bv, count(*) AS n FROM bk WHERE bv IS NOT NULL GROUP BY bv"),
        ("rk", "SELECT bv, row_number() OVER (ORDER BY n DESC, bv) AS r FROM vals"),
        # kind 0: no value; 1: one of the `limit` most common values; 2: the others together.
        (
            "bb",
            f"SELECT bk.*, CASE WHEN bk.bv IS NULL THEN 0 WHEN rk.r <= {limit} THEN 1 ELSE 2 END AS kind,\n"
            f"  CASE WHEN rk.r <= {limit} THEN bk.bv END AS bkey\nFROM bk LEFT JOIN rk ON rk.bv = bk.bv",
        ),
    ]
    select = (
        f"SELECT GROUPING(kind) AS total, kind, bkey, {', '.join(aggs)}\n"
        f"FROM (SELECT *, {gaps} FROM bb) q\nGROUP BY GROUPING SETS ((), (kind, bkey))"
    )
    return body, select
