"""The must-show race: two real processes redeem the same single-use coupons 1,000 times in all on
PostgreSQL. Exactly one redemption wins per coupon, and a template's budget is never exceeded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from siyu.context import AppContext
from siyu.coupons.service import CouponService
from siyu.store.models.coupons import Coupon, CouponRedemption, CouponTemplate

WORKER = """
import json, sys, time
from decimal import Decimal
from pathlib import Path
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from siyu.coupons.service import CouponService, OrderContext

import random
from siyu.coupons.batch import BatchRedeemer
from siyu.store.models.base import utcnow

url, name, codes_file, go, rounds, mode = sys.argv[1:7]
codes = json.loads(Path(codes_file).read_text())
engine = create_engine(url)
while not Path(go).exists():
    time.sleep(0.005)
wins = fails = 0
shuffle = random.Random(name)
for r in range(int(rounds)):
    if mode == "batch":  # the order path: ten orders a batch, in an order of this worker's own
        mine = codes[:]
        shuffle.shuffle(mine)
        for i in range(0, len(mine), 10):
            with Session(engine) as s:
                items = [(c, OrderContext("shop", f"{name}-{r}-{c}", Decimal(100))) for c in mine[i:i + 10]]
                got = BatchRedeemer(s, utcnow()).redeem_many(items)
                s.commit()
            wins += sum(x.ok for x in got)
            fails += sum(not x.ok for x in got)
        continue
    for code in codes:
        with Session(engine) as s:
            res = CouponService(s).redeem(code, OrderContext("shop", f"{name}-{r}-{code}", Decimal(100)))
            s.commit()
        wins += res.ok
        fails += not res.ok
print(json.dumps({"wins": wins, "fails": fails}))
"""


@pytest.mark.postgresql_only("SQLite has one writer: nothing races")
@pytest.mark.parametrize("modes", [("single", "single"), ("batch", "batch"), ("batch", "single")])
def test_two_processes_race_for_the_same_coupons(
    ctx: AppContext, contacts, template, db_url: str, tmp_path: Path, modes: tuple[str, str]
) -> None:
    """One by one (the API's redeem), ten orders a batch (the order path, each worker in its own
    order of codes), and the two paths against each other: no deadlock, one win per coupon."""
    template("plain", valid_days=3650)
    template("capped", valid_days=3650, budget="150")  # ¥20 coupons: 7 fit, the 8th would not
    people = contacts(30)
    with ctx.db.session() as s:
        svc = CouponService(s)
        codes = [
            c.code
            for c in svc.issue_many("plain", people[:20], issued_by="t", external_prefix="p").values()
            if c
        ]
        codes += [
            c.code for c in svc.issue_many("capped", people, issued_by="t", external_prefix="c").values() if c
        ]
    assert len(codes) == 50
    (tmp_path / "codes.json").write_text(json.dumps(codes))
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rounds = 10  # 2 processes × 10 rounds × 50 codes = 1,000 attempts
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                db_url,
                name,
                str(tmp_path / "codes.json"),
                str(go),
                str(rounds),
                mode,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name, mode in zip(("w1", "w2"), modes, strict=True)
    ]
    time.sleep(1.0)  # both connected and polling
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert sum(r["wins"] + r["fails"] for r in results) == 1_000
    with ctx.db.session() as s:
        plain, capped = (
            s.scalar(select(CouponTemplate).where(CouponTemplate.key == k)) for k in ("plain", "capped")
        )
        per_coupon = dict(
            s.execute(
                select(CouponRedemption.coupon_id, func.count())
                .where(CouponRedemption.status == "succeeded")
                .group_by(CouponRedemption.coupon_id)
            ).all()
        )
        assert set(per_coupon.values()) == {1}  # never two wins for one coupon
        plain_ids = set(s.scalars(select(Coupon.id).where(Coupon.template_id == plain.id)))
        assert plain_ids <= set(per_coupon)  # every unbudgeted coupon was won once
        capped_wins = [c for c in per_coupon if c not in plain_ids]
        assert len(capped_wins) == 7
        given = s.scalar(
            select(func.sum(CouponRedemption.discount)).where(
                CouponRedemption.template_id == capped.id, CouponRedemption.status == "succeeded"
            )
        )
        assert given == capped.spent == Decimal("140.00") <= capped.budget
        assert sum(r["wins"] for r in results) == 27
        assert s.scalar(select(func.count()).select_from(CouponRedemption)) == 1_000


ISSUER = """
import json, sys, time
from pathlib import Path
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from siyu.coupons.service import CouponService

url, people_file, go = sys.argv[1:4]
people = json.loads(Path(people_file).read_text())
engine = create_engine(url)
while not Path(go).exists():
    time.sleep(0.005)
got = 0
for i in range(0, len(people), 5):
    with Session(engine) as s:
        # the same external ids in both processes: one coupon each, never two
        res = CouponService(s).issue_many("limited", people[i:i + 5], issued_by="t", external_prefix="race")
        s.commit()
    got += sum(1 for v in res.values() if v is not None)
print(json.dumps({"got": got}))
"""


@pytest.mark.postgresql_only("SQLite has one writer: nothing races")
def test_two_processes_issue_within_the_limit_and_once_per_external_id(
    ctx: AppContext, contacts, template, db_url: str, tmp_path: Path
) -> None:
    template("limited", valid_days=30, issue_limit=40)
    people = contacts(60)
    (tmp_path / "people.json").write_text(json.dumps(people))
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ISSUER, db_url, str(tmp_path / "people.json"), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    time.sleep(1.0)
    go.touch()
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    with ctx.db.session() as s:
        rows = s.execute(select(Coupon.contact_id, Coupon.external_id)).all()
        t = s.scalar(select(CouponTemplate).where(CouponTemplate.key == "limited"))
        assert len(rows) == t.issued == 40  # the limit, exactly
        assert len({r.external_id for r in rows}) == len({r.contact_id for r in rows}) == 40
