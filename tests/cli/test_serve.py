"""The main job end to end: `siyu serve --demo` in its own process, as the README starts it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.config import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "SIYU_DATA_DIR": str(settings.data_dir),
        "SIYU_DATABASE_URL": settings.resolved_database_url,
        "SIYU_SECRET_KEY": settings.secret_key or "",
        "SIYU_WAREHOUSE_FEED_INTERVAL_S": "0.5",
        "SIYU_LANG": "en",
        "PYTHONUNBUFFERED": "1",
    }


def _first_login(proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    """The credentials the first run prints (it prints them before the server starts)."""
    assert proc.stdout is not None
    seen = []
    for raw in proc.stdout:
        line = raw.decode()
        seen.append(line)
        if match := re.search(r"as (\S+) with password (\S+) ", line):
            return match.group(1), match.group(2)
    raise AssertionError("no first-run sign-in line in: " + "".join(seen))


def test_serve_demo_answers_ingests_and_feeds_the_warehouse(
    settings: Settings, console_login: Callable[..., Any]
) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "siyu.cli.main",
            "serve",
            "--demo",
            "--demo-contacts",
            "300",
            "--port",
            str(port),
        ],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        username, password = _first_login(proc)
        with httpx.Client(timeout=30) as probe:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if probe.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, "server exited"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            assert probe.get(f"{base}/api/v1/stats").status_code == 401  # nothing without signing in
        # The operator signs in with what the first run printed; the session reads the API too.
        with console_login(base, username, password) as http:
            stats = http.get(f"{base}/api/v1/stats").json()
            assert stats["contacts"] == 300 and stats["events"] > 1000
            assert http.get(f"{base}/docs").status_code == 200
            key = http.get(f"{base}/api/v1/sources").json()[0]["write_key"]
            calls = [
                {"type": "track", "event": "Served", "userId": f"s{i}", "messageId": f"srv-{i}"}
                for i in range(50)
            ]
            answer = http.post(f"{base}/v1/batch", json={"batch": calls}, auth=(key, ""))
            assert answer.json()["accepted"] == 50
            total = http.get(f"{base}/api/v1/stats").json()["events"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert proc.returncode == 0
    wh = duckdb.connect(str(settings.resolved_warehouse_path), read_only=True)
    try:
        shipped = wh.execute("SELECT count(*), count(*) FILTER (event = 'Served') FROM events").fetchall()[0]
    finally:
        wh.close()
    # The feeder shipped everything, including the last batch: what the system of record holds
    # once the server has stopped (the background layers and the journey worker may have added
    # system events after `total` was read, never fewer).
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        in_store = conn.execute(text("SELECT count(*) FROM events")).scalar()
    engine.dispose()
    assert in_store is not None and in_store >= total
    assert shipped == (in_store, 50)


def test_demo_command_prints_a_summary(settings: Settings, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--contacts", "200", "--days", "30", "--seed", "3", "--json"], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert summary["contacts"] == 200 and summary["seed"] == 3
    assert summary["events"] > 0 and summary["contact_rows"] >= 200
    # Loading the demo again adds only what is missing: the same people, no second brand.
    again = CliRunner().invoke(
        app, ["demo", "--contacts", "200", "--days", "30", "--seed", "3", "--json"], env=_env(settings)
    )
    assert again.exit_code == 0, again.output
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        contacts = conn.execute(text("SELECT count(*) FROM contacts")).scalar()
    engine.dispose()
    assert contacts == summary["contact_rows"]
