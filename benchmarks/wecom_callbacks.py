"""WeCom callback receiving: callbacks per second sustained and the time to answer ``success``.

    python benchmarks/wecom_callbacks.py [--callbacks 5000] [--senders 32] [--workers 1]

A real ``siyu serve`` process on 127.0.0.1 (uvicorn; the warehouse feeder and journey worker
run beside it as in production) with a WeCom provider whose callback Token / EncodingAESKey
are the emulator's. ``--senders`` concurrent senders POST ``--callbacks`` signed, encrypted
``add_external_contact`` callbacks (each a different customer; the envelopes are built before
the clock starts, as WeCom's servers would have them ready). Processing runs in the server
right after each answer (externalcontact/get against the emulator, contact, follow, event), so
the receive path is measured while processing competes for the same cores; ``drain_s`` is how
long after the last answer the last callback was processed.

Figures: ``callbacks_per_s`` (answered ``success`` per second over the run), ``p50_ms`` /
``p99_ms`` / ``max_ms`` (time to the answer, per request), ``processed`` (rows done at the end),
and the same load on ``GET /healthz`` first (``healthz_per_s``, ``healthz_p99_ms``: the ceiling
of the machine and web stack at that moment; the machine may be shared) with the load average.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.emulators.wecom_inflow import WeComInflowEmulator  # noqa: E402

import siyu  # noqa: E402
from siyu.store.models import WeComCallback  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _client(senders: int) -> aiohttp.ClientSession:
    """The senders' client: aiohttp, because httpx's async client costs about 1 ms of CPU per
    request, and the senders share the two cores with the server they measure."""
    connector = aiohttp.TCPConnector(limit=senders)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def _baseline(url: str, n: int, senders: int) -> tuple[list[float], float]:
    """The same load on ``GET /healthz``: what the machine and the web stack give a route that
    does nothing (the ceiling the callback route is measured against)."""
    latencies: list[float] = []
    left = list(range(n))
    async with _client(senders) as http:

        async def sender() -> None:
            while left:
                left.pop()
                started = time.perf_counter()
                async with http.get(url) as resp:
                    resp.raise_for_status()
                    await resp.read()
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        return latencies, time.perf_counter() - started


async def _send(
    url: str, requests: list[tuple[dict[str, str], bytes]], senders: int
) -> tuple[list[float], float]:
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    async with _client(senders) as http:

        async def sender() -> None:
            while not queue.empty():
                query, body = queue.get_nowait()
                started = time.perf_counter()
                async with http.post(url, params=query, data=body) as resp:
                    text = await resp.text()
                latencies.append(time.perf_counter() - started)
                if resp.status != 200 or text != "success":
                    raise SystemExit(f"callback refused: {resp.status} {text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        return latencies, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--callbacks", type=int, default=5000)
    ap.add_argument("--senders", type=int, default=32, help="concurrent senders")
    ap.add_argument("--workers", type=int, default=1, help="`siyu serve --workers`")
    ap.add_argument("--database-url", default=None, help="system of record (default: SQLite in a temp dir)")
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="siyu-bench-wecom-"))
    emu = WeComInflowEmulator()
    server = None
    try:
        with emu.running() as emu_url:
            client = siyu.open(data_dir, database_url=args.database_url)
            client.providers.add(
                "wecom",
                "wecom",
                {"corp_id": emu.corp_id, "base_url": emu_url},
                {
                    "corp_secret": emu.corp_secret,
                    "callback_token": emu.callback_token,
                    "encoding_aes_key": emu.encoding_aes_key,
                },
            )
            settings = client.ctx.settings
            client.close()
            events = [
                emu.customer_adds(
                    f"staff{i % 50}", f"wmBENCH{i:07d}", unionid=f"oBENCH{i}", push=False, welcome=False
                )
                for i in range(args.callbacks)
            ]
            requests = [emu.envelope(e) for e in events]
            port = _free_port()
            env = {
                **os.environ,
                "SIYU_DATA_DIR": str(data_dir),
                "SIYU_DATABASE_URL": settings.resolved_database_url,
            }
            if settings.secret_key:
                env["SIYU_SECRET_KEY"] = str(settings.secret_key)
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "siyu.cli.main",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(args.workers),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            base_lat, base_el = asyncio.run(_baseline(f"{base}/healthz", args.callbacks, args.senders))
            latencies, elapsed = asyncio.run(
                _send(f"{base}/api/v1/providers/wecom/callbacks/events", requests, args.senders)
            )
            answered_at = time.perf_counter()
            check = siyu.open(data_dir, database_url=args.database_url)
            processed = 0
            for _ in range(1200):
                with check.ctx.db.session() as s:
                    processed = (
                        s.scalar(
                            select(func.count())
                            .select_from(WeComCallback)
                            .where(WeComCallback.status == "done")
                        )
                        or 0
                    )
                if processed >= args.callbacks:
                    break
                time.sleep(0.25)
            drain_s = time.perf_counter() - answered_at
            check.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(
        json.dumps(
            {
                "callbacks": args.callbacks,
                "senders": args.senders,
                "workers": args.workers,
                "callbacks_per_s": round(len(latencies) / elapsed),
                "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
                "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
                "max_ms": round(max(latencies) * 1000, 1),
                "processed": processed,
                "healthz_per_s": round(len(base_lat) / base_el),
                "healthz_p99_ms": round(_percentile(base_lat, 0.99) * 1000, 1),
                "load_average": [round(x, 1) for x in os.getloadavg()],
                "drain_s": round(drain_s, 1),
                "database": args.database_url or "sqlite",
            }
        )
    )


if __name__ == "__main__":
    main()
