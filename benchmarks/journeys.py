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

* ``dispatch_per_s`` (``--dispatch N``, default 6000; 0 skips): the outbox dispatcher sends N
  queued messages on SQLite against a local provider answering in ``--latency`` (50 ms), in
  its own process on 127.0.0.1, counting what it received: ``webhook`` (a minimal asyncio
  receiver) and ``tencent_sms`` (the Tencent SMS emulator of tests/emulators, a per-message
  API checking signatures and fields). The providers are configured with ``concurrency``
  ``--concurrency`` and ``rate_per_s`` ``--rate``; ``*_peak_1s`` is the most requests the
  provider saw in any one-second window (never above the rate). ``--dispatch-only`` skips the
  engine phases.

The engine phases do not dispatch (no provider). Last line: one JSON object with the figures.
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


# --- dispatch ---------------------------------------------------------------------------------
def _webhook_receiver(port_q: Any, done: Any, latency: float, seconds: float, out: Any) -> None:
    """A minimal HTTP/1.1 keep-alive receiver: answers 200 after ``latency``, notes arrivals,
    stops after ``seconds``."""
    import asyncio

    arrivals: list[float] = []
    keys: set[str] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrivals.append(time.monotonic())
                length, key = 0, ""
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif name.lower() == b"idempotency-key":
                        key = value.strip().decode()
                await reader.readexactly(length)
                keys.add(key)
                await asyncio.sleep(latency)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
        port_q.put(server.sockets[0].getsockname()[1])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not done.is_set():  # the parent says when it is done
            await asyncio.sleep(0.1)
        server.close()

    asyncio.run(run())
    out.put((arrivals, len(keys), time.process_time()))


def _sms_provider(port_q: Any, done: Any, latency: float, seconds: float, out: Any) -> None:
    """The Tencent SMS emulator of the test suite (the same signature and field checks), each
    answer ``latency`` late, behind a small asyncio HTTP/1.1 keep-alive server: the suite's
    thread-per-connection server spent more CPU per request than the dispatcher it serves,
    and both share the machine's two cores."""
    import asyncio
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from urllib.parse import parse_qsl, urlsplit

    from tests.emulators.server import Request
    from tests.emulators.tencent_sms import TencentSmsEmulator

    arrivals: list[float] = []
    emu = TencentSmsEmulator(limits={"thirty_second": 10**6, "one_hour": 10**6, "daily": 10**6})

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                arrivals.append(time.monotonic())
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                parts = urlsplit(target)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                resp = emu._dispatch(Request(method, parts.path, query, headers, body))
                data = orjson.dumps(resp.body) if isinstance(resp.body, (dict, list)) else resp.body or b""
                await asyncio.sleep(latency)
                writer.write(
                    f"HTTP/1.1 {resp.status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=1024)
        emu.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        port_q.put(server.sockets[0].getsockname()[1])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not done.is_set():  # the parent says when it is done
            await asyncio.sleep(0.1)
        server.close()

    asyncio.run(run())
    out.put((arrivals, len(emu.sent_by_key()), time.process_time()))


def dispatch_bench(data_dir: Path, args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """Messages per second through the dispatcher against a provider in another process."""
    from siyu.channels.dispatcher import Dispatcher

    shutil.rmtree(data_dir, ignore_errors=True)
    mp = multiprocessing.get_context("spawn")
    port_q, out, done = mp.Queue(), mp.Queue(), mp.Event()
    target = _webhook_receiver if kind == "webhook" else _sms_provider
    bound = args.dispatch / 200 + 60  # the provider process stops by itself
    proc = mp.Process(target=target, args=(port_q, done, args.latency, bound, out), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{port_q.get(timeout=30)}"
    s = open_siyu(None, data_dir)
    limits = {"concurrency": args.concurrency, "rate_per_s": args.rate}
    if kind == "webhook":
        s.providers.add("p", "webhook", {"url": f"{base}/in", **limits}, {"secret": "bench"})
        channel, content = "webhook", {"event": "bench", "data": {"n": 1}}
    else:
        config = {"sdk_app_id": "1400006666", "sign_name": "思域商城", "base_url": base, **limits}
        secrets = {"secret_id": "AKIDEXAMPLE0000000000", "secret_key": "emulator-secret-key"}
        s.providers.add("p", "tencent_sms", config, secrets)
        channel, content = "sms", {"template_code": "449739", "params": {"1": "朋友"}, "text": "x"}
    n = args.dispatch
    calls = [{"type": "identify", "identifiers": {"phone": f"+86138{i:08d}"}} for i in range(n)]
    for i in range(0, n, 5000):
        s.batch(calls[i : i + 5000])
    engine = s.ctx.db.engine
    stamp = storage_time(engine.dialect.name)
    now = datetime.now(UTC)
    with engine.begin() as c:
        ids = [r[0] for r in c.execute(text("SELECT contact_id FROM identities WHERE type = 'phone'"))]
    rows = (
        (
            f"bench:{cid}",
            cid,
            channel,
            orjson.dumps(content).decode(),
            "pending",
            0,
            stamp(now),
            "2026-01-01",
            "2026-W01",
            stamp(now),
            False,
        )
        for cid in ids
    )
    cols = (
        "key",
        "contact_id",
        "channel",
        "content",
        "status",
        "attempts",
        "next_attempt_at",
        "local_day",
        "local_week",
        "created_at",
        "transactional",
    )
    bulk_insert(engine, "outbox", cols, rows)
    d = Dispatcher(s.ctx.db, s.ctx.keyring, batch_size=args.dispatch_batch)
    sent = retried = 0
    cpu = time.process_time()  # this process's CPU (all threads): what a send costs the worker
    started = time.perf_counter()
    while True:
        st = d.run_once()
        sent += st.sent
        retried += st.retried
        if st.claimed == 0:
            break
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    with engine.begin() as c:  # what did not go out, and why (most common first)
        unsent = c.execute(
            text(
                "SELECT status, error, count(*) FROM outbox WHERE status <> 'sent' "
                "GROUP BY status, error ORDER BY count(*) DESC LIMIT 3"
            )
        ).all()
    d.close()
    s.close()
    done.set()
    arrivals, received, provider_cpu = out.get(timeout=bound + 30)
    proc.join(5)
    times = sorted(arrivals)
    peak = max((int(np.searchsorted(times, t + 1.0)) - i for i, t in enumerate(times)), default=0)
    result = {
        "kind": kind,
        "sent": sent,
        "received": received,
        "requests": len(times),
        "dispatch_s": round(elapsed, 2),
        "per_s": round(sent / elapsed),
        "peak_1s": peak,
        "cpu_ms_per_send": round(1000 * cpu / max(sent, 1), 3),
        # the provider process's CPU per request: the two share the machine's cores
        "provider_cpu_ms_per_request": round(1000 * provider_cpu / max(len(times), 1), 3),
        "retried": retried,
        "unsent": [[r[0], (r[1] or "")[:120], r[2]] for r in unsent],
    }
    print(json.dumps({"phase": "dispatch", **result}), flush=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--contacts", type=int, default=1_000_000, help="enrolments in the lag journey")
    p.add_argument("--flow-contacts", type=int, default=200_000)
    p.add_argument("--lag-rate", type=float, default=2000.0, help="due steps per second in the lag phase")
    p.add_argument("--lag-window", type=float, default=60.0)
    p.add_argument("--data-dir", type=Path, default=Path("/tmp/siyu-bench-journeys"))
    p.add_argument("--dispatch", type=int, default=6000, help="messages in the dispatch phase (0 skips it)")
    p.add_argument("--latency", type=float, default=0.05, help="the provider's answer time, seconds")
    p.add_argument("--concurrency", type=int, default=96, help="the providers' concurrency setting")
    p.add_argument("--rate", type=float, default=2000.0, help="the providers' rate_per_s setting")
    p.add_argument("--dispatch-batch", type=int, default=1000, help="outbox rows per dispatcher claim")
    p.add_argument("--dispatch-only", action="store_true", help="skip the engine phases")
    args = p.parse_args()
    out: dict[str, Any] = {}
    if args.dispatch:
        for kind in ("webhook", "tencent_sms"):
            r = dispatch_bench(args.data_dir.with_name(args.data_dir.name + "-dispatch"), args, kind)
            out[f"{kind}_dispatch_per_s"] = r["per_s"]
            out[f"{kind}_peak_1s"] = r["peak_1s"]
        out["dispatch_per_s"] = min(out["webhook_dispatch_per_s"], out["tencent_sms_dispatch_per_s"])
    if args.dispatch_only:
        print(json.dumps(out))
        return
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
