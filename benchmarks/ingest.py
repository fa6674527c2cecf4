"""Ingest throughput: the bulk file-import path and the HTTP batch path.

    python benchmarks/ingest.py --events 1000000 [--contacts 20000] [--http-events 200000]

Builds a fresh data directory with a demo brand of ``--contacts`` contacts, writes a JSONL file
of ``--events`` track calls for those contacts (customer_no, phone or device id, some new
visitors), imports it with ``siyu import events`` semantics, then posts ``--http-events`` calls
to ``POST /v1/batch`` (1,000 per request, ``--http-clients`` concurrent clients) of a real
``siyu serve --workers N`` process on 127.0.0.1. Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

import siyu
from siyu.demo.generator import DemoConfig, generate
from siyu.store.models import Identity


def _known_ids(client: siyu.Siyu, limit: int) -> list[dict[str, str]]:
    """Identifiers of existing contacts, as a brand's SDK would send them."""
    with client.ctx.db.session() as s:
        rows = (
            s.query(Identity.type, Identity.value)
            .filter(Identity.type.in_(["customer_no", "app_device_id", "wechat_unionid"]))
            .limit(limit)
            .all()
        )
    return [{kind: value} for kind, value in rows]


def _calls(n: int, known: list[dict[str, str]], seed: int, prefix: str) -> list[dict]:
    rng = random.Random(seed)
    events = ["Page Viewed", "Content Clicked", "Product Viewed", "Coupon Claimed", "Order Completed"]
    out = []
    for i in range(n):
        ids = rng.choice(known) if rng.random() < 0.98 else {"app_device_id": f"{prefix}-new-{i % 5000}"}
        call = {
            "type": "track",
            "event": rng.choice(events),
            "messageId": f"{prefix}-{i}",
            "timestamp": f"2026-11-{1 + i % 20:02d}T{i % 24:02d}:{i % 60:02d}:00.000Z",
            "properties": {"category": rng.choice(["deals", "collab", "tea_knowledge"]), "value": i % 97},
        }
        if "customer_no" in ids:
            call["userId"] = ids["customer_no"]
        elif "app_device_id" in ids:
            call["anonymousId"] = ids["app_device_id"]
        else:
            call["identifiers"] = ids
        out.append(call)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http(
    client: siyu.Siyu, data_dir: Path, calls: list[dict], clients: int, workers: int, database_url: str | None
) -> float:
    """Posts to a real `siyu serve` process (the client runs in this one, as SDKs would)."""
    key = client.create_source("bench-http")["write_key"]
    port = _free_port()
    env = {**os.environ, "SIYU_DATA_DIR": str(data_dir)}
    if database_url:
        env["SIYU_DATABASE_URL"] = database_url
    server = subprocess.Popen(
        [sys.executable, "-m", "siyu.cli.main", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    auth = {
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "Content-Type": "application/json",
    }
    bodies = [orjson.dumps({"batch": calls[i : i + 1000]}) for i in range(0, len(calls), 1000)]
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=120) as http:
            for _ in range(600):
                try:
                    if http.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            started = time.perf_counter()

            def post(body: bytes) -> int:
                r = http.post(f"{url}/v1/batch", content=body, headers=auth)
                r.raise_for_status()
                return int(r.json()["accepted"])

            with ThreadPoolExecutor(clients) as pool:
                accepted = sum(pool.map(post, bodies))
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=60)
    if accepted != len(calls):
        raise SystemExit(f"HTTP path accepted {accepted} of {len(calls)} calls")
    return len(calls) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000, help="events in the bulk import file")
    ap.add_argument("--http-events", type=int, default=200_000, help="events posted over HTTP")
    ap.add_argument("--http-clients", type=int, default=4, help="concurrent HTTP clients")
    ap.add_argument("--http-workers", type=int, default=2, help="`siyu serve --workers`")
    ap.add_argument("--contacts", type=int, default=20_000, help="demo contacts the events refer to")
    ap.add_argument("--database-url", default=None, help="system of record (default: SQLite in a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="siyu-bench-"))
    try:
        client = siyu.open(data_dir, database_url=args.database_url)
        generate(client.ctx, DemoConfig(contacts=args.contacts, days=30, seed=7))
        known = _known_ids(client, 50_000)
        path = data_dir / "events.jsonl"
        with path.open("wb") as fh:
            for call in _calls(args.events, known, 1, "bulk"):
                fh.write(orjson.dumps(call) + b"\n")
        started = time.perf_counter()
        report = client.import_file(path, "events", batch_size=10_000)
        bulk_s = time.perf_counter() - started
        if report.accepted != args.events:
            raise SystemExit(f"bulk path accepted {report.accepted} of {args.events}: {report.errors[:3]}")
        print(f"bulk import: {args.events} events in {bulk_s:.2f}s", file=sys.stderr)
        http_calls = _calls(args.http_events, known, 2, "http")
        http_rate = bench_http(
            client, data_dir, http_calls, args.http_clients, args.http_workers, args.database_url
        )
        client.close()
        print(
            json.dumps(
                {
                    "bulk_events_per_s": round(args.events / bulk_s),
                    "http_events_per_s": round(http_rate),
                    "events": args.events,
                    "http_events": args.http_events,
                    "contacts": args.contacts,
                    "database": args.database_url or "sqlite",
                }
            )
        )
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
