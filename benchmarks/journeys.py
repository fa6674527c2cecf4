"""Journey engine speed: step executions per second and due-step lag.

    python benchmarks/journeys.py [--contacts 1000000] [--flow-contacts 200000]
                                  [--lag-rate 2000] [--lag-window 60] [--data-dir DIR]

* ``sqlite_steps_per_s``: one worker process on SQLite drains ``--flow-contacts`` enrolments
  through split (A/B) → send (webhook, rendered, written to the outbox) → branch (has tag) →
  wait; four step executions per contact, counted by the engine.
* ``postgres_steps_per_s``: the same with two worker processes on PostgreSQL
  (``SIYU_TEST_DATABASE_URL``; skipped without it).
* ``lag_p99_s``: with ``--contacts`` enrolments waiting in a second journey, ``--lag-rate``
  of them per second fall due over ``--lag-window`` seconds (the rest wait for weeks); the
  worker(s) run them (resume → send → exit) and the lag is claim time minus due time, p99.
  Reported for SQLite (``lag_p99_s``) and PostgreSQL with two workers (``postgres_lag_p99_s``).

The outbox is not dispatched here (no provider): this measures the engine. Last line: one JSON
object with the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import create_engine, text

import siyu
from siyu.journeys.engine import Engine
from siyu.journeys.worker import engine_config
from siyu.store.bulk import bulk_insert, max_id
from siyu.store.dialect import storage_time

KEY = base64.b64encode(b"b" * 32).decode()
FLOW = {
    "key": "bench-flow",
    "name": "Benchmark flow",
    "trigger": {"list": True},
    "purpose": "service",
    "quiet_hours": {"enabled": False},
    "steps": [
        {
            "id": "ab",
            "split": {
                "variants": [
                    {"name": "A", "weight": 1, "next": "send"},
                    {"name": "B", "weight": 1, "next": "send"},
                ]
            },
        },
        {
            "id": "send",
            "send": {
                "channel": "webhook",
                "content": {
                    "event": "bench",
                    "data": {"id": "{{ contact.id }}", "v": "{{ name | default('朋友') }}"},
                },
            },
        },
        {"id": "vip", "branch": {"routes": [{"if": {"has_tag": "vip"}, "next": "exit"}], "else": "later"}},
        {"id": "later", "wait": "30d"},
    ],
}
LAG = {
    "key": "bench-lag",
    "name": "Benchmark lag",
    "trigger": {"list": True},
    "purpose": "service",
    "quiet_hours": {"enabled": False},
    "steps": [
        {"id": "w", "wait": "1d"},
        {
            "id": "send",
            "send": {"channel": "webhook", "content": {"event": "due", "data": {"id": "{{ contact.id }}"}}},
        },
        {"id": "done", "exit": True},
    ],
}


def open_siyu(url: str | None, data_dir: Path) -> Any:
    return siyu.open(data_dir, database_url=url, secret_key=KEY, quiet_hours="")


def contacts(s: Any, n: int) -> tuple[int, int]:
    engine = s.ctx.db.engine
    start = max_id(engine, "contacts") + 1
    now = storage_time(engine.dialect.name)(datetime.now(UTC))
    bulk_insert(
        engine, "contacts", ("id", "created_at", "updated_at"), ((start + i, now, now) for i in range(n))
    )
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(
                text("SELECT setval(pg_get_serial_sequence('contacts','id'), (SELECT max(id) FROM contacts))")
            )
    return start, start + n


def enrol(s: Any, journey_key: str, first: int, last: int, step: str, due: np.ndarray, waited: bool) -> None:
    """Bulk-load enrolments (what the trigger follower writes, without its entry checks)."""
    engine = s.ctx.db.engine
    with engine.begin() as c:
        jid = c.execute(text("SELECT id FROM journeys WHERE key = :k"), {"k": journey_key}).scalar()
    stamp = storage_time(engine.dialect.name)
    now = stamp(datetime.now(UTC))
    data = orjson.dumps({"waited": step} if waited else {}).decode()
    t0 = datetime.now(UTC)
    rows = (
        (
            jid,
            cid,
            f"bench:{cid}",
            "active",
            step,
            stamp(t0 + timedelta(seconds=float(d))),
            None,
            "{}",
            data,
            now,
        )
        for cid, d in zip(range(first, last), due, strict=True)
    )
    cols = (
        "journey_id",
        "contact_id",
        "trigger_key",
        "status",
        "step",
        "due_at",
        "wait_event",
        "variants",
        "data",
        "entered_at",
    )
    bulk_insert(engine, "journey_enrolments", cols, rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as c:
            c.execute(text("ANALYZE journey_enrolments"))


def _work(url: str, data_dir: str, seconds: float, stop_when_idle: bool, out: Any) -> None:
    s = open_siyu(url, Path(data_dir))
    cfg = engine_config(s.ctx.settings)
    steps, lags = 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with s.ctx.db.sessionmaker() as session:
            run = Engine(session, s.ctx.keyring, cfg).run_due(1000)
            session.commit()
        steps += run.steps
        lags.extend(run.lags)
        if run.claimed == 0:
            if stop_when_idle:
                break
            time.sleep(0.05)
    out.put((steps, lags))
    s.close()


def run_workers(
    url: str, data_dir: Path, workers: int, seconds: float, stop_when_idle: bool
) -> tuple[int, list[float], float]:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_work, args=(url, str(data_dir), seconds, stop_when_idle, q))
        for _ in range(workers)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return sum(r[0] for r in results), [x for r in results for x in r[1]], elapsed


def bench(url: str, data_dir: Path, args: argparse.Namespace, workers: int) -> dict[str, float]:
    s = open_siyu(url, data_dir)
    s.journeys.create(FLOW)
    s.journeys.create(LAG)
    s.journeys.start("bench-flow")
    s.journeys.start("bench-lag")
    a, b = contacts(s, args.flow_contacts)
    enrol(s, "bench-flow", a, b, "ab", np.zeros(b - a), waited=False)
    steps, _, elapsed = run_workers(url, data_dir, workers, 3600, stop_when_idle=True)
    result = {"steps_per_s": steps / elapsed, "flow_steps": steps, "flow_s": elapsed}
    print(json.dumps({"phase": "flow", "workers": workers, **result}), flush=True)
    n_due = min(int(args.lag_rate * args.lag_window), args.contacts)
    a, b = contacts(s, args.contacts)
    enrol(s, "bench-lag", a, b, "w", np.full(b - a, 30 * 86400.0), waited=True)
    # Then the window: due times from a few seconds after the workers are started (loading a
    # million rows takes longer than that, so they are set last), at --lag-rate per second.
    offsets = np.sort(np.random.default_rng(1).uniform(0, args.lag_window, n_due))
    start = datetime.now(UTC) + timedelta(seconds=4)
    stamp = storage_time(s.ctx.db.engine.dialect.name)
    with s.ctx.db.engine.begin() as c:
        c.execute(
            text("UPDATE journey_enrolments SET due_at = :due WHERE contact_id = :cid"),
            [
                {"due": stamp(start + timedelta(seconds=float(o))), "cid": a + i}
                for i, o in enumerate(offsets)
            ],
        )
    s.close()
    steps, lags, elapsed = run_workers(url, data_dir, workers, args.lag_window + 15, stop_when_idle=False)
    result["lag_p99_s"] = float(np.percentile(lags, 99)) if lags else float("nan")
    result["lag_due"] = len(lags)
    print(
        json.dumps(
            {
                "phase": "lag",
                "workers": workers,
                "enrolled": b - a,
                "due": len(lags),
                "lag_p99_s": result["lag_p99_s"],
            }
        ),
        flush=True,
    )
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--contacts", type=int, default=1_000_000, help="enrolments in the lag journey")
    p.add_argument("--flow-contacts", type=int, default=200_000)
    p.add_argument("--lag-rate", type=float, default=2000.0, help="due steps per second in the lag phase")
    p.add_argument("--lag-window", type=float, default=60.0)
    p.add_argument("--data-dir", type=Path, default=Path("/tmp/siyu-bench-journeys"))
    args = p.parse_args()
    out: dict[str, Any] = {}
    shutil.rmtree(args.data_dir, ignore_errors=True)
    r = bench(f"sqlite:///{args.data_dir / 'siyu.db'}", args.data_dir, args, workers=1)
    out["sqlite_steps_per_s"] = round(r["steps_per_s"])
    out["lag_p99_s"] = round(r["lag_p99_s"], 3)
    pg = os.environ.get("SIYU_TEST_DATABASE_URL")
    if pg:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg)
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"
        try:
            pg_dir = args.data_dir.with_name(args.data_dir.name + "-pg")
            shutil.rmtree(pg_dir, ignore_errors=True)
            r = bench(url, pg_dir, args, workers=2)
            out["postgres_steps_per_s"] = round(r["steps_per_s"])
            out["postgres_lag_p99_s"] = round(r["lag_p99_s"], 3)
        finally:
            with admin.begin() as c:
                c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    else:
        out["postgres_steps_per_s"] = None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
