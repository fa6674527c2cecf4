"""REST for WeCom contact ways, figures, sync, staff and transfers, over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.wecom.ways_env import CHANNEL, PROVIDER, Env, ways_env


@pytest.fixture
def env(server: Any) -> Iterator[Env]:
    with ways_env(server.client.ctx) as e:
        yield e


def test_contact_way_over_rest(http: httpx.Client, env: Env) -> None:
    body = {"channel": CHANNEL, "state": "rest-1", "provider": PROVIDER, "staff": ["zhangsan", "lisi"]}
    made = http.post("/api/v1/wecom/entry-codes", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["config_id"] in env.world.contact_ways
    again = http.post("/api/v1/wecom/entry-codes", json=body)
    assert again.status_code == 409 and "already exists" in again.text
    bad = http.post("/api/v1/wecom/entry-codes", json={**body, "state": "rest-2", "staff": ["ghost"]})
    assert bad.status_code == 422 and "not a member of the corp" in bad.text
    changed = http.patch("/api/v1/wecom/entry-codes/rest-1", json={"staff": ["lisi", "wangwu"]})
    assert changed.status_code == 200 and changed.json()["staff"] == ["lisi", "wangwu"]
    assert http.get("/api/v1/wecom/entry-codes/nope").status_code == 404
    for i in range(3):
        env.world.add_follow("lisi", f"wm{i}", 1_780_000_000 + i, state="rest-1")
    run = http.post("/api/v1/wecom/sync", json={})
    assert run.status_code == 200 and run.json()["status"] == "done", run.text
    fig = http.get("/api/v1/wecom/figures", params={"state": "rest-1"}).json()[0]
    assert (fig["adds"], fig["scans"]) == (3, None)
    assert http.get("/api/v1/staff/lisi").json()["customers"] == 3
    assert http.get("/api/v1/staff/ghost").status_code == 404
    moved = http.post(
        "/api/v1/wecom/transfers",
        json={"handover_userid": "lisi", "takeover_userid": "zhangsan", "external_userids": ["wm0"]},
    )
    assert moved.status_code == 201 and moved.json()[0]["status"] == "waiting"
    env.world.finish_transfers()
    assert http.post("/api/v1/wecom/transfers/poll").json()["success"] == 1
    assert http.delete("/api/v1/wecom/entry-codes/rest-1").json()["deleted_at"]


def test_background_sync_reports_progress(http: httpx.Client, env: Env) -> None:
    for i in range(500):
        env.world.add_follow(f"u{i % 20}", f"wm{i}", 1_780_000_000 + i)
    started = http.post("/api/v1/wecom/sync", json={"wait": False})
    assert started.status_code == 202 and started.json()["status"] == "running"
    deadline = time.monotonic() + 60
    while True:
        run = http.get("/api/v1/wecom/sync-runs").json()[0]
        if run["status"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert run["id"] == started.json()["id"] and run["status"] == "done" and run["follows_seen"] == 500
