"""Template variables from the loyalty programme: points from the ledger, the tier's name, the
latest usable coupon with its expiry in the brand's zone, and the next expiry for the reminder
SOP — loaded with a fixed number of queries per batch, whatever its size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from siyu.content.render import render
from siyu.content.variables import contact_variables
from siyu.context import AppContext
from siyu.store.models import (
    Contact,
    ContactAttribute,
    Coupon,
    CouponTemplate,
    LoyaltyMember,
    LoyaltyTier,
    PointsEntry,
)

NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _award(
    cid: int, points: int, n: int, *, status: str = "active", expires: datetime | None = None
) -> PointsEntry:
    return PointsEntry(
        available_at=NOW + (5 * DAY if status == "pending" else -30 * DAY),
        contact_id=cid,
        kind="award",
        points=points,
        remaining=points,
        status=status,
        source="manual",
        reason="t",
        external_id=f"v:{cid}:{n}",
        expires_at=expires,
    )


def _world(ctx: AppContext, members: int = 1) -> dict[str, Any]:
    with ctx.db.session() as s:
        gold = LoyaltyTier(key="gold", name="金卡会员", name_en="Gold", rank=1, threshold=Decimal(1))
        tpl = CouponTemplate(key="welcome", name="新人券", kind="fixed", amount=Decimal(10))
        s.add_all([gold, tpl])
        s.flush()
        ids = []
        for _ in range(members + 1):
            c = Contact()
            s.add(c)
            s.flush()
            ids.append(c.id)
        member, other = ids[0], ids[-1]
        for n, cid in enumerate(ids[:-1]):
            s.add(LoyaltyMember(contact_id=cid, member_no=f"M{n:05d}", tier_id=gold.id))
            s.add_all(
                [
                    # 23:30 Beijing on 3 March and 10:00 on 3 March: the same brand-local day
                    _award(cid, 120, 1, expires=datetime(2026, 3, 3, 15, 30, tzinfo=UTC)),
                    _award(cid, 30, 2, expires=datetime(2026, 3, 3, 2, 0, tzinfo=UTC)),
                    _award(cid, 500, 3, expires=datetime(2026, 12, 31, 15, 59, tzinfo=UTC)),
                    _award(cid, 40, 4, status="pending"),  # not spendable yet
                    _award(cid, 70, 5, status="expired", expires=NOW - DAY),
                    _award(cid, 9, 6, expires=NOW - DAY),  # past its date: not "expiring"
                ]
            )
            s.add_all(
                [
                    Coupon(
                        template_id=tpl.id,
                        code=f"OLD{n}",
                        contact_id=cid,
                        status="issued",
                        issued_at=NOW - 9 * DAY,
                        expires_at=NOW + 30 * DAY,
                    ),
                    Coupon(
                        template_id=tpl.id,
                        code=f"NEW{n}",
                        contact_id=cid,
                        status="issued",
                        issued_at=NOW - 2 * DAY,
                        expires_at=datetime(2026, 3, 31, 15, 59, tzinfo=UTC),
                    ),
                    Coupon(
                        template_id=tpl.id,
                        code=f"USED{n}",
                        contact_id=cid,
                        status="redeemed",
                        issued_at=NOW - DAY,
                        expires_at=NOW + 30 * DAY,
                    ),
                    Coupon(
                        template_id=tpl.id,
                        code=f"LAPSED{n}",
                        contact_id=cid,
                        status="issued",
                        issued_at=NOW - DAY,
                        expires_at=NOW - timedelta(minutes=1),
                    ),
                ]
            )
        s.add(ContactAttribute(contact_id=other, name="points", value=77))
    return {"member": member, "other": other, "ids": ids}


def test_loyalty_variables(ctx: AppContext) -> None:
    w = _world(ctx)
    with ctx.db.session() as s:
        v = contact_variables(s, None, w["ids"], zone="Asia/Shanghai", now=NOW)
    m = v[w["member"]]
    assert m["points"] == 120 + 30 + 500  # the 9 past their date are expired even before the job runs
    assert (m["tier"], m["tier_en"], m["member_no"]) == ("金卡会员", "Gold", "M00000")
    assert m["coupon"]["code"] == "NEW0"  # the newest usable one
    assert m["coupon"]["expires_at"] == "2026-03-31 23:59"  # Beijing time
    assert m["points_expiring"] == 150 and m["points_expiring_at"] == "2026-03-03"
    o = v[w["other"]]
    assert o["points"] == 77  # no ledger rows: the trait still speaks
    assert o["tier"] is None and o["coupon"] is None and o["points_expiring"] == 0
    text = "{{ tier }}您好，积分 {{ points }}，券码 {{ coupon.code }} 有效至 {{ coupon.expires_at }}"
    r = render({"text": text}, m, None)
    assert r.content["text"] == "金卡会员您好，积分 650，券码 NEW0 有效至 2026-03-31 23:59", r.errors
    r = render({"text": "{% if coupon %}{{ coupon.code }}{% else %}无券{% endif %}"}, o, None)
    assert r.content["text"] == "无券"
    # in New York the two awards expire on different local days
    with ctx.db.session() as s:
        ny = contact_variables(s, None, [w["member"]], zone="America/New_York", now=NOW)[w["member"]]
    assert (ny["points_expiring"], ny["points_expiring_at"]) == (30, "2026-03-02")


def test_query_count_does_not_grow_with_the_batch(ctx: AppContext) -> None:
    w = _world(ctx, members=40)
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engine = ctx.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with ctx.db.session() as s:
            contact_variables(s, None, w["ids"][:2], zone="Asia/Shanghai", now=NOW)
        few = len(statements)
        statements.clear()
        with ctx.db.session() as s:
            many = contact_variables(s, None, w["ids"], zone="Asia/Shanghai", now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == few
    assert {many[c]["coupon"]["code"] for c in w["ids"][:-1]} == {f"NEW{n}" for n in range(40)}
