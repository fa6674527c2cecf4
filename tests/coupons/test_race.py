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

url, name, codes_file, go, rounds = sys.argv[1:6]
codes = json.loads(Path(codes_file).read_text())
engine = create_engine(url)
while not Path(go).exists():
    time.sleep(0.005)
wins = fails = 0
for r in range(int(rounds)):
    for code in codes:
        with Session(engine) as s:
            res = CouponService(s).redeem(code, OrderContext("shop", f"{name}-{r}-{code}", Decimal(100)))
            s.commit()
        wins += res.ok
        fails += not res.ok
print(json.dumps({"wins": wins, "fails": fails}))
"""


@pytest.mark.postgresql_only("SQLite has one writer: nothing races")
def test_two_processes_race_for_the_same_coupons(
    ctx: AppContext, contacts, template, db_url: str, tmp_path: Path
) -> None:
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
            [sys.executable, "-c", WORKER, db_url, name, str(tmp_path / "codes.json"), str(go), str(rounds)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("w1", "w2")
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
