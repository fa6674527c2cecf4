"""Analytics speed on the demo brand, against pandas and hand-written DuckDB SQL.

    python benchmarks/analytics.py [--contacts 1000000] [--events 50000000] [--data-dir DIR]
                                   [--repeat 3] [--skip-pandas]

Builds (or reuses) a demo data directory (the same deterministic demo brand as
``benchmarks/segments.py``), then times on the DuckDB warehouse, each the median of
``--repeat`` runs with the result cache off:

* ``funnel``: Product Viewed → Coupon Claimed → Order Completed, sequential, 14-day window, over
  the whole demo period;
* ``retention``: first-time weekly retention, start event Page Viewed, return event Order
  Completed, 12 weekly cohorts;
* ``activity``: DAU/WAU/MAU for each of the last 90 days;
* ``clv_fit``: BG/NBD + Gamma-Gamma maximum-likelihood fit on 1M customers simulated from known
  parameters (the figure is the fit, not the simulation);
* ``markov``: exact Markov-chain attribution on ``../shared/data/attribution_paths.csv``.

For funnel, retention and activity the same numbers are computed by (a) pandas, written as
well as we could (``merge_asof`` for the funnel, vectorised group-bys elsewhere), and (b) a
hand-written DuckDB query; the script checks that all three agree before it prints a ratio.
``<analysis>_vs_pandas`` is pandas time on a DataFrame already in memory / siyu time (higher is
better for siyu); ``<analysis>_vs_pandas_with_load`` adds the time to load that DataFrame from
the warehouse (``pandas_load_s``, what a pandas user pays before any analysis);
``<analysis>_vs_hand_sql`` is siyu time / hand-SQL time (1.0 means as fast as the hand-written
query).

Last line: one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

import siyu
from siyu.analytics.base import DuckDBSource, run_analysis
from siyu.demo.generator import DemoConfig, generate
from siyu.store.models import SYSTEM_EVENTS

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FUNNEL = ("Product Viewed", "Coupon Claimed", "Order Completed")
#: What counts as activity (docs/analytics/activity.md): track/page/screen calls, not system events.
ACTIVE = (
    "AND type NOT IN ('alias', 'group', 'identify') AND (event IS NULL OR event NOT IN ("
    + ", ".join(f"'{e}'" for e in SYSTEM_EVENTS)
    + "))"
)
WINDOW_DAYS = 14


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls and the last call's value."""
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def prepare(data_dir: Path, contacts: int, events: int) -> Path:
    """The demo brand's warehouse file (generated on first use)."""
    os.environ.setdefault("SIYU_SECRET_KEY", base64.b64encode(b"bench-segments-key-32-bytes-long").decode())
    client = siyu.open(data_dir)
    with client.ctx.db.session() as s:
        fresh = s.execute(siyu_count_contacts()).scalar() == 0
    if fresh:
        per_day = 1.8 * (events / contacts) / 50.2  # 1.8/day gives ~50.2 events per contact
        t0 = time.perf_counter()
        info = generate(client.ctx, DemoConfig(contacts=contacts, events_per_day=per_day))
        print(
            f"demo: {info['contacts']} contacts, {info['events']} events in {time.perf_counter() - t0:.0f}s"
        )
    client.feed_warehouse()
    path = client.ctx.settings.resolved_warehouse_path
    client.close()
    return path


def siyu_count_contacts() -> Any:
    from sqlalchemy import func, select

    from siyu.store.models import Contact

    return select(func.count()).select_from(Contact)


# --- funnel -------------------------------------------------------------------------------------------
FUNNEL_SQL = f"""
WITH s1 AS (SELECT contact_id, timestamp AS t1 FROM events
            WHERE event = '{FUNNEL[0]}' AND timestamp >= $lo AND timestamp < $hi),
s2 AS (SELECT contact_id, timestamp AS t2 FROM events WHERE event = '{FUNNEL[1]}'),
s3 AS (SELECT contact_id, timestamp AS t3 FROM events WHERE event = '{FUNNEL[2]}'),
j2 AS (SELECT s1.contact_id, s1.t1, s2.t2 FROM s1 ASOF LEFT JOIN s2
       ON s1.contact_id = s2.contact_id AND s1.t1 <= s2.t2),
j3 AS (SELECT j2.contact_id, j2.t1, j2.t2, s3.t3 FROM j2 ASOF LEFT JOIN s3
       ON j2.contact_id = s3.contact_id AND j2.t2 <= s3.t3),
reached AS (
    SELECT contact_id, max(1 + coalesce((t2 <= t1 + INTERVAL {WINDOW_DAYS} DAY)::INT, 0)
                          + coalesce((t3 <= t1 + INTERVAL {WINDOW_DAYS} DAY)::INT, 0)) AS steps
    FROM j3 GROUP BY contact_id)
SELECT count(*) FILTER (WHERE steps >= 1), count(*) FILTER (WHERE steps >= 2),
       count(*) FILTER (WHERE steps >= 3)
FROM reached
"""


def funnel_pandas(df: pd.DataFrame, lo: datetime, hi: datetime) -> list[int]:
    """Greedy sequential funnel with ``merge_asof`` (the fastest idiomatic pandas)."""
    window = pd.Timedelta(days=WINDOW_DAYS)
    s1 = df[(df.event == FUNNEL[0]) & (df.timestamp >= lo) & (df.timestamp < hi)][["contact_id", "timestamp"]]
    s1 = s1.rename(columns={"timestamp": "t1"}).sort_values("t1")
    s2 = df[df.event == FUNNEL[1]][["contact_id", "timestamp"]].rename(columns={"timestamp": "t2"})
    s3 = df[df.event == FUNNEL[2]][["contact_id", "timestamp"]].rename(columns={"timestamp": "t3"})
    j2 = pd.merge_asof(
        s1, s2.sort_values("t2"), left_on="t1", right_on="t2", by="contact_id", direction="forward"
    )
    has2 = j2.dropna(subset=["t2"]).sort_values("t2")
    j3 = pd.merge_asof(
        has2, s3.sort_values("t3"), left_on="t2", right_on="t3", by="contact_id", direction="forward"
    )
    j3["steps"] = 1 + (j3.t2 <= j3.t1 + window).astype(int) + (j3.t3 <= j3.t1 + window).astype(int)
    steps = pd.concat(
        [j2[j2.t2.isna()].assign(steps=1)[["contact_id", "steps"]], j3[["contact_id", "steps"]]]
    )
    best = steps.groupby("contact_id").steps.max()
    return [int((best >= k).sum()) for k in (1, 2, 3)]


# --- retention ------------------------------------------------------------------------------------------
RETENTION_SQL = """
WITH first AS (SELECT contact_id, min(timestamp) AS t FROM events WHERE event = 'Page Viewed'
               GROUP BY contact_id),
cohort AS (SELECT contact_id, date_trunc('week', t) AS week FROM first WHERE t >= $lo AND t < $hi),
back AS (SELECT DISTINCT contact_id, date_trunc('week', timestamp) AS week FROM events
         WHERE event = 'Order Completed' AND timestamp >= $lo AND timestamp < $end),
sizes AS (SELECT week, count(*) AS size FROM cohort GROUP BY week),
returned AS (SELECT c.week, CAST(datediff('day', c.week, b.week) / 7 AS INT) AS k, count(*) AS n
             FROM cohort c JOIN back b USING (contact_id) WHERE b.week >= c.week GROUP BY ALL)
SELECT s.week, s.size, r.k, r.n FROM sizes s LEFT JOIN returned r USING (week) ORDER BY s.week, r.k
"""


def retention_pandas(df: pd.DataFrame, lo: datetime, hi: datetime, end: datetime) -> dict[Any, Any]:
    pv = df[df.event == "Page Viewed"]
    first = pv.groupby("contact_id").timestamp.min()
    first = first[(first >= lo) & (first < hi)]
    cohort = first.dt.to_period("W-SUN").dt.start_time.rename("week").reset_index()
    oc = df[(df.event == "Order Completed") & (df.timestamp >= lo) & (df.timestamp < end)]
    back = pd.DataFrame(
        {
            "contact_id": oc.contact_id.to_numpy(),
            "bweek": oc.timestamp.dt.to_period("W-SUN").dt.start_time.to_numpy(),
        }
    )
    back = back.drop_duplicates()
    j = cohort.merge(back, on="contact_id")
    j = j[j.bweek >= j.week]
    j["k"] = (j.bweek - j.week).dt.days // 7
    counts = j.groupby(["week", "k"]).size()
    sizes = cohort.groupby("week").size()
    return {(w.to_pydatetime(), None): int(n) for w, n in sizes.items()} | {
        (w.to_pydatetime(), int(k)): int(n) for (w, k), n in counts.items()
    }


def retention_rows(rows: list[tuple[Any, ...]]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for week, size, k, n in rows:
        out[(week, None)] = int(size)
        if k is not None:
            out[(week, int(k))] = int(n)
    return out


# --- activity --------------------------------------------------------------------------------------------
#: The best hand-written form we know: distinct (contact, day), then each active day counts for
#: the days up to the contact's next active day (non-overlapping), as +1/-1 edges summed over the
#: calendar. (The textbook range join of days × contact-days is 100× slower at this size.)
ACTIVITY_SQL = f"""
WITH d AS (SELECT DISTINCT contact_id, CAST(timestamp AS DATE) AS day FROM events
           WHERE timestamp >= $lo - INTERVAL 29 DAY AND timestamp < $hi {ACTIVE}),
n AS (SELECT day, coalesce(lead(day) OVER (PARTITION BY contact_id ORDER BY day), DATE '9999-12-31') AS nxt
      FROM d),
edges AS (SELECT day AS edge, 1 AS dau, 1 AS wau, 1 AS mau FROM n
          UNION ALL SELECT least(day + 1, nxt), -1, 0, 0 FROM n
          UNION ALL SELECT least(day + 7, nxt), 0, -1, 0 FROM n
          UNION ALL SELECT least(day + 30, nxt), 0, 0, -1 FROM n),
per_day AS (SELECT edge, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau FROM edges GROUP BY edge),
running AS (SELECT edge, sum(dau) OVER w AS dau, sum(wau) OVER w AS wau, sum(mau) OVER w AS mau
            FROM per_day WINDOW w AS (ORDER BY edge))
SELECT CAST(days.day AS DATE), CAST(r.dau AS BIGINT), CAST(r.wau AS BIGINT), CAST(r.mau AS BIGINT)
FROM (SELECT unnest(generate_series(CAST($lo AS DATE), CAST($hi AS DATE) - 1, INTERVAL 1 DAY)) AS day) days
ASOF JOIN running r ON days.day >= r.edge
ORDER BY 1
"""


def activity_pandas(df: pd.DataFrame, lo: datetime, hi: datetime) -> list[tuple[date, int, int, int]]:
    recent = df[(df.timestamp >= lo - timedelta(days=29)) & (df.timestamp < hi) & df.active]
    d = pd.DataFrame(
        {"contact_id": recent.contact_id.to_numpy(), "day": recent.timestamp.dt.floor("D").to_numpy()}
    ).drop_duplicates()
    out = []
    for day in pd.date_range(lo, hi - timedelta(days=1), freq="D"):

        def active(n: int, day: pd.Timestamp = day) -> int:
            return int(d[(d.day > day - pd.Timedelta(days=n)) & (d.day <= day)].contact_id.nunique())

        out.append((day.date(), active(1), active(7), active(30)))
    return out


# --- CLV ----------------------------------------------------------------------------------------------
def simulate_bgnbd(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Customers from the BG/NBD process (r=0.243, α=4.414, a=0.793, b=2.426), weeks, T ≤ 78,
    with Gamma-Gamma spend (p=6.25, q=3.74, γ=15.44)."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    big_t = rng.uniform(1, 78, n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    t = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / np.maximum(lam[idx], 1e-12))
        within = t[idx] <= big_t[idx]
        buy = idx[within]
        x[buy] += 1
        t_x[buy] = t[buy]
        alive[idx[~within]] = False
        dies = buy[rng.random(buy.size) < p[buy]]
        alive[dies] = False
    nu = rng.gamma(3.74, 1 / 15.44, n)
    monetary = np.where(x > 0, rng.gamma(6.25 * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0)
    return {"x": x, "t_x": t_x, "T": big_t, "monetary": monetary}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clv-customers", type=int, default=1_000_000)
    ap.add_argument("--skip-pandas", action="store_true", help="skip the (slow) pandas baselines")
    args = ap.parse_args()
    data_dir = args.data_dir or Path(f"/tmp/siyu-bench-segments-{args.contacts}-{args.events}")
    path = prepare(data_dir, args.contacts, args.events)
    conn = duckdb.connect(str(path), read_only=True)
    conn.execute("SET TimeZone = 'UTC'")
    src = DuckDBSource(conn, str(path))
    n_events, first, last = conn.execute(
        "SELECT count(*), min(timestamp), max(timestamp) FROM events"
    ).fetchall()[0]
    print(
        f"warehouse: {n_events} events from {first} to {last}; DuckDB threads: "
        f"{conn.execute('SELECT current_setting(?)', ['threads']).fetchall()[0][0]}"
    )
    end = datetime.combine(last.date() + timedelta(days=1), datetime.min.time())
    figures: dict[str, Any] = {"events": n_events}
    df = None
    load_s = 0.0
    if not args.skip_pandas:
        t0 = time.perf_counter()
        df = conn.sql(f"SELECT contact_id, event, timestamp, (true {ACTIVE}) AS active FROM events").df()
        df["event"] = df["event"].astype("category")
        load_s = time.perf_counter() - t0
        figures["pandas_load_s"] = round(load_s, 1)
        print(f"pandas frame (4 columns, every event) loaded in {load_s:.1f}s")

    def compare(
        name: str, ours: Callable[[], Any], hand: Callable[[], Any], pandas: Callable[[], Any]
    ) -> None:
        s, ours_v = timed(ours, args.repeat)
        h, hand_v = timed(hand, args.repeat)
        assert ours_v == hand_v, f"{name}: siyu {ours_v!s:.300} != hand SQL {hand_v!s:.300}"
        figures[f"{name}_s"] = round(s, 3)
        figures[f"{name}_vs_hand_sql"] = round(s / h, 2)
        line = f"{name}: siyu {s:.3f}s, hand SQL {h:.3f}s (×{s / h:.2f})"
        if df is not None:
            p, pandas_v = timed(pandas, 1)
            assert ours_v == pandas_v, f"{name}: siyu {ours_v!s:.300} != pandas {pandas_v!s:.300}"
            figures[f"{name}_vs_pandas"] = round(p / s, 1)
            figures[f"{name}_vs_pandas_with_load"] = round((p + load_s) / s, 1)
            with_load = p + load_s
            line += f", pandas {p:.1f}s in memory (×{p / s:.1f}), {with_load:.1f}s with the load"
            line += f" (×{with_load / s:.1f})"
        print(line, flush=True)

    # funnel over the whole period
    lo, hi = datetime.combine(first.date(), datetime.min.time()), end
    funnel_params = {
        "steps": [{"event": e} for e in FUNNEL],
        "window_days": WINDOW_DAYS,
        "mode": "sequential",
        "from": lo.date().isoformat(),
        "to": (hi - timedelta(days=1)).date().isoformat(),
    }

    def funnel_ours() -> list[int]:
        result = run_analysis("funnel", funnel_params, src, use_cache=False)
        return [int(s["count"]) for s in result.to_dict()["steps"]]

    compare(
        "funnel",
        funnel_ours,
        lambda: list(conn.execute(FUNNEL_SQL, {"lo": lo, "hi": hi}).fetchall()[0]),
        lambda: funnel_pandas(df, lo, hi),
    )

    # weekly retention, 12 cohorts of weeks ending with the last full week
    last_monday = end.date() - timedelta(days=end.weekday())
    r_lo = datetime.combine(last_monday - timedelta(weeks=12), datetime.min.time())
    r_hi = datetime.combine(last_monday, datetime.min.time())
    retention_params = {
        "start_event": "Page Viewed",
        "return_event": "Order Completed",
        "type": "first_time",
        "period": "week",
        "from": r_lo.date().isoformat(),
        "to": (r_hi - timedelta(days=1)).date().isoformat(),
    }

    def retention_ours() -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for c in run_analysis("retention", retention_params, src, use_cache=False).to_dict()["cohorts"]:
            week = datetime.fromisoformat(c["start"])
            if c["size"]:  # the hand-written query lists only cohorts that have contacts
                out[(week, None)] = c["size"]
            out |= {(week, k): n for k, n in enumerate(c["values"]) if n}
        return out

    compare(
        "retention",
        retention_ours,
        lambda: retention_rows(conn.execute(RETENTION_SQL, {"lo": r_lo, "hi": r_hi, "end": r_hi}).fetchall()),
        lambda: retention_pandas(df, r_lo, r_hi, r_hi),
    )

    # DAU/WAU/MAU, last 90 days
    a_lo = end - timedelta(days=90)
    activity_params = {"from": a_lo.date().isoformat(), "to": (end - timedelta(days=1)).date().isoformat()}

    def activity_ours() -> list[tuple[date, int, int, int]]:
        days = run_analysis("activity", activity_params, src, use_cache=False).to_dict()["days"]
        return [(date.fromisoformat(d["day"]), d["dau"], d["wau"], d["mau"]) for d in days]

    compare(
        "activity",
        activity_ours,
        lambda: [tuple(r) for r in conn.execute(ACTIVITY_SQL, {"lo": a_lo, "hi": end}).fetchall()],
        lambda: activity_pandas(df, a_lo, end),
    )
    df = None  # free the memory before the CLV simulation

    # CLV fit on simulated customers
    from siyu.analytics.clv.models import fit_clv

    customers = simulate_bgnbd(args.clv_customers)
    s, fit = timed(lambda: fit_clv(**customers), args.repeat)
    figures["clv_fit_s"] = round(s, 3)
    print(f"clv fit ({args.clv_customers} customers): {s:.2f}s → {fit}")

    # Markov attribution on the reference paths
    from siyu.analytics.attribution.runner import read_paths_csv

    t0 = time.perf_counter()
    paths = read_paths_csv(SHARED_DATA / "attribution_paths.csv")
    figures["markov_read_csv_s"] = round(time.perf_counter() - t0, 4)
    s, _ = timed(
        lambda: run_analysis("attribution", {"paths": paths, "model": "markov"}, None, use_cache=False),
        max(args.repeat, 5),
    )
    figures["markov_s"] = round(s, 4)
    print(f"markov ({len(paths)} paths): {s * 1000:.0f} ms")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
