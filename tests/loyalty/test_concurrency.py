"""Two real processes spend the same member's points at once on PostgreSQL, many times, some
with the same external ids: no balance goes below zero (the programme forbids a negative one),
each external id is spent once, and the ledger verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from siyu.context import AppContext
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.verify import verify
from siyu.store.models import PointsEntry

from .helpers import new_contact

pytestmark = pytest.mark.postgresql_only
WORKER = Path(__file__).with_name("spend_worker.py")


def test_two_processes_cannot_overspend(ctx: AppContext) -> None:
    cid = new_contact(ctx, "+8613800138031")
    with ctx.db.session() as s:
        for i in range(4):
            Ledger(s).award(cid, 250, source="manual", reason="seed", external_id=f"seed-{i}")
    shared = [f"shared-{i}" for i in range(60)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                ctx.settings.resolved_database_url,
                str(cid),
                "7",
                *[f"{tag}-{i}" for i in range(150)],
                *shared,
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for tag in ("a", "b")
    ]
    results = [json.loads(p.communicate(timeout=240)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert [r["errors"] for r in results] == [[], []]
    assert all(r["refused"] > 0 for r in results)  # the points really ran out under contention
    with ctx.db.session() as s:
        spends = s.scalar(
            select(func.count()).where(PointsEntry.kind == "spend", PointsEntry.contact_id == cid)
        )
        ids = s.scalar(
            select(func.count(func.distinct(PointsEntry.external_id))).where(PointsEntry.kind == "spend")
        )
        assert spends == ids  # a shared id spent once, whichever process came first
        bal = Ledger(s).balance(cid)
        assert bal.active == 1000 - 7 * spends >= 0
        assert bal.active < 7  # spent down to what one more spend cannot take
        assert verify(s)["ok"]
