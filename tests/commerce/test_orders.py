"""Orders booked from order events, whichever path they come by: idempotent, partial refunds,
bad input reported by where it is and never costing the neighbouring orders."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from tests.commerce.conftest import T0, order_call, refund_call, rows

from siyu.client import Siyu
from siyu.commerce.schemas import CommerceError, CommerceNotFound
from siyu.context import AppContext
from siyu.store.models import ContactFollow


def orders(ctx: AppContext) -> list[tuple]:
    return rows(ctx, "SELECT source, order_no, total, refunded, status FROM orders ORDER BY source, order_no")


def test_track_books_order_with_lines_and_creates_the_channel(s: Siyu, ctx: AppContext) -> None:
    products = [
        {"product_id": "milk", "name": "鲜奶", "price": 12.5, "quantity": 2},
        {"product_id": "bread", "name": "面包", "price": "8", "quantity": 1},
    ]
    s.track(
        "Order Completed",
        {"phone": "13800138000"},
        {"order_id": "Y-1", "total": 33, "source": "youzan", "products": products, "coupon": None},
        timestamp=T0,
    )
    assert [(src, no, Decimal(str(t))) for src, no, t, _, _ in orders(ctx)] == [
        ("youzan", "Y-1", Decimal("33"))
    ]
    lines = rows(ctx, "SELECT product_id, price, quantity FROM order_lines ORDER BY position")
    assert [(p, Decimal(str(pr)), q) for p, pr, q in lines] == [
        ("milk", Decimal("12.5"), 2),
        ("bread", Decimal("8"), 1),
    ]
    assert rows(ctx, "SELECT key, kind, name FROM channels") == [("youzan", "other", "有赞")]
    # the event is stored too (journeys trigger on it)
    assert rows(ctx, "SELECT count(*) FROM events WHERE event = 'Order Completed'") == [(1,)]


def test_same_order_twice_and_by_two_paths_is_one_order(s: Siyu, ctx: AppContext) -> None:
    s.batch([order_call("A1", 100, source="taobao"), order_call("A1", 100, source="taobao")])
    s.track("Order Completed", {"phone": "13800138000"}, {"order_id": "A1", "total": 100, "source": "taobao"})
    out = s.orders.book(
        [{"identifiers": {"phone": "13800138000"}, "order_id": "A1", "total": 100, "source": "taobao"}]
    )
    assert out == {"booked": 0, "duplicates": 1, "problems": []}
    # the same order number on another channel is another order
    s.batch([order_call("A1", 50, source="douyin")])
    assert [(src, no) for src, no, *_ in orders(ctx)] == [("douyin", "A1"), ("taobao", "A1")]


def test_bad_orders_are_problems_and_neighbours_are_booked(s: Siyu, ctx: AppContext) -> None:
    calls = [
        order_call("ok-1", 10),
        order_call("neg", -5),
        order_call("nan", "abc"),
        order_call("huge", 1e300),
        order_call("ok-2", "20.005"),
        order_call("bad-line", 10, products=[{"product_id": "x", "price": 1, "quantity": 0}]),
        order_call("bool", True),
        refund_call("nowhere", amount=5),
    ]
    result = s.batch(calls)
    assert result.rejected == []  # the events are stored all the same
    assert [no for _, no, *_ in orders(ctx)] == ["ok-1", "ok-2"]
    assert Decimal(str(orders(ctx)[1][2])) == Decimal("20.01")  # rounded half up to the cent
    problems = {(p["order_id"], p["field"], p["code"]) for p in s.orders.problems()["problems"]}
    assert problems == {
        ("neg", "total", "negative"),
        ("nan", "total", "not_a_number"),
        ("huge", "total", "too_large"),
        ("bad-line", "products[0].quantity", "out_of_range"),
        ("bool", "total", "not_a_number"),
        ("nowhere", "order_id", "order_not_found"),
    }


def test_partial_and_full_refunds(s: Siyu, ctx: AppContext) -> None:
    products = [
        {"product_id": "a", "price": 30, "quantity": 2},
        {"product_id": "b", "price": 40, "quantity": 1},
    ]
    s.batch([order_call("R1", 100, source="store", products=products)])
    s.batch(
        [
            refund_call(
                "R1",
                source="store",
                refund_id="r-1",
                amount=30,
                products=[{"product_id": "a", "quantity": 1}],
            )
        ]
    )
    assert (Decimal(str(orders(ctx)[0][3])), orders(ctx)[0][4]) == (Decimal(30), "partially_refunded")
    # the same refund again (a replay) changes nothing
    s.batch([refund_call("R1", source="store", refund_id="r-1", amount=30)])
    # more than is left is refused; the order is untouched
    s.batch([refund_call("R1", source="store", refund_id="r-2", amount="70.01")])
    assert Decimal(str(orders(ctx)[0][3])) == Decimal(30)
    codes = [p["code"] for p in s.orders.problems()["problems"]]
    assert codes == ["amount_above_remaining"]
    # more units than bought are refused too
    with pytest.raises(CommerceError) as exc:
        s.orders.refund("store", "R1", products=[{"product_id": "a", "quantity": 2}], refund_id="r-3")
    assert exc.value.field == "products[0].quantity"
    # without an amount, what is left is refunded
    out = s.orders.refund("store", "R1", refund_id="r-4", reason="退货")
    assert out["order"]["status"] == "refunded" and out["order"]["refunded"] == "100.00"
    assert [r["amount"] for r in out["order"]["refunds"]] == ["30.00", "70.00"]
    with pytest.raises(CommerceError) as exc:
        s.orders.refund("store", "R1", amount=1, refund_id="r-5")
    assert exc.value.code == "already_refunded"
    with pytest.raises(CommerceNotFound):
        s.orders.refund("store", "nope", amount=1)
    with pytest.raises(CommerceError) as exc:
        s.orders.refund("store", "R1", amount=-1)
    assert exc.value.field == "amount"
    lines = rows(ctx, "SELECT product_id, refunded_quantity FROM order_lines ORDER BY position")
    assert lines == [("a", 1), ("b", 0)]
    # three refund events came in; the refund booked here is recorded as one more
    assert rows(ctx, "SELECT count(*) FROM events WHERE event = 'Order Refunded'") == [(4,)]


def test_staff_credit_from_property_else_wecom_follower(s: Siyu, ctx: AppContext) -> None:
    s.identify({"phone": "13800138001"})
    with ctx.db.session() as session:
        cid = rows(ctx, "SELECT id FROM contacts")[0][0]
        for userid, added in (("later", T0), ("first", T0.replace(year=2025))):
            session.add(
                ContactFollow(
                    contact_id=cid,
                    provider_key="p",
                    staff_userid=userid,
                    external_userid=f"wm{userid}",
                    added_at=added,
                )
            )
    s.batch(
        [order_call("S1", 10, phone="13800138001"), order_call("S2", 10, phone="13800138001", staff="zhang")]
    )
    assert rows(ctx, "SELECT order_no, staff_userid FROM orders ORDER BY order_no") == [
        ("S1", "first"),
        ("S2", "zhang"),
    ]


def test_write_key_source_names_the_channel(s: Siyu, ctx: AppContext) -> None:
    s.create_channel("douyin", "douyin", "抖音小店")
    key = s.create_source("douyin-shop", channel="douyin")["write_key"]
    s.batch([order_call("D1", 10)], write_key=key)
    s.batch([order_call("D2", 10)])
    assert [(src, no) for src, no, *_ in orders(ctx)] == [("api", "D2"), ("douyin", "D1")]


def test_file_import_books_orders(s: Siyu, ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    lines = [order_call(f"F{i}", 10 + i, source="mini_program") for i in range(3)] + [order_call("F0", 10)]
    lines[3]["properties"]["source"] = "mini_program"
    path.write_text("\n".join(json.dumps({**c, "messageId": f"m{i}"}) for i, c in enumerate(lines)))
    report = s.import_file(path, "events")
    assert report.accepted == 4
    assert [no for _, no, *_ in orders(ctx)] == ["F0", "F1", "F2"]


def test_summary_net_of_refunds(s: Siyu, ctx: AppContext) -> None:
    s.batch(
        [
            order_call("P1", 100, timestamp="2026-05-01T00:00:00Z"),
            order_call("P2", 50, timestamp="2026-05-03T00:00:00Z"),
            order_call("P3", 30, timestamp="2026-05-05T00:00:00Z"),
            order_call("Q1", 999, phone="13800138009"),
        ]
    )
    s.orders.refund("api", "P2", amount=20, refund_id="x")
    s.orders.refund("api", "P3", refund_id="y")  # whole: P3 is no purchase any more
    out = s.orders.summary("13800138000")
    # spend 100 + 30 + 0; orders P1 and P2; AOV 130 / 2
    assert (out["spend"], out["orders"], out["aov"], out["refunded"]) == ("130.00", 2, "65.00", "50.00")
    assert out["last_order_at"].startswith("2026-05-05") and out["first_order_at"].startswith("2026-05-01")
    assert [o["order_id"] for o in out["recent"]] == ["P3", "P2", "P1"]
    other = s.identify({"phone": "13800138077"})
    assert other.contacts_created == 1
    none = s.orders.summary("13800138077")
    assert (none["spend"], none["orders"], none["aov"]) == ("0.00", 0, None)


def test_rest_style_book_reports_problems_by_index(s: Siyu, ctx: AppContext) -> None:
    out = s.orders.book(
        [
            {
                "identifiers": {"phone": "13800138000"},
                "order_id": "B1",
                "total": "1.5",
                "ordered_at": "2026-06-01T10:00:00+08:00",
            },
            {"identifiers": {"phone": "13800138000"}, "order_id": "B2", "total": "x"},
            "not an order",
            {"identifiers": {}, "order_id": "B3", "total": 1},
            {
                "identifiers": {"phone": "13800138000"},
                "order_id": "B4",
                "total": 1,
                "ordered_at": "not a time",
            },
            {
                "identifiers": {"phone": "13800138000"},
                "order_id": "订单-五",
                "total": 2,
                "source": "Bad Source!",
            },
        ]
    )
    assert out["booked"] == 1 and out["duplicates"] == 0
    assert [(p["index"], p["field"]) for p in out["problems"]] == [
        (1, "total"),
        (2, "(order)"),
        (3, "identifiers"),
        (4, "ordered_at"),
        (5, "source"),
    ]
    shown = s.orders.show("api", "B1")
    assert shown["ordered_at"] == "2026-06-01T02:00:00+00:00" and shown["total"] == "1.50"


def test_csv_import_errors_by_row_and_field(s: Siyu, ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "订单号,手机号,渠道,实付金额,下单时间,商品编号,单价,数量\n"
        "C1,13800138000,taobao,60,2026-06-01 10:00,a,20,3\n"
        "C1,13800138000,taobao,60,2026-06-01 10:00,b,0,1\n"
        "C2,13800138000,taobao,abc,2026-06-01 10:00,,,\n"
        "C3,,taobao,5,2026-06-01 10:00,,,\n"
        "C4,13800138000,taobao,5,yesterday,,,\n"
        ",13800138000,taobao,5,,,,\n"
        "C5,13800138000,taobao,5,2026/06/02 09:00,,,\n",
        encoding="utf-8",
    )
    out = s.orders.import_csv(path)
    assert (out["rows"], out["booked"]) == (7, 2)
    assert [(e["row"], e["field"]) for e in out["errors"]] == [
        (4, "total"),
        (5, "identifiers"),
        (6, "ordered_at"),
        (7, "order_id"),
    ]
    c1 = s.orders.show("taobao", "C1")
    assert [(p["product_id"], p["quantity"]) for p in c1["products"]] == [("a", 3), ("b", 1)]
    # a time without an offset is Beijing time
    assert c1["ordered_at"] == "2026-06-01T02:00:00+00:00"
    assert s.orders.import_csv(path)["booked"] == 0  # importing again books nothing new


def test_orders_follow_a_merge(s: Siyu, ctx: AppContext) -> None:
    s.batch(
        [
            order_call("M1", 10, phone="13800138061"),
            {**order_call("M2", 20), "identifiers": {"customer_no": "vip-1"}},
        ]
    )
    assert rows(ctx, "SELECT count(DISTINCT contact_id) FROM orders") == [(2,)]
    s.identify({"phone": "13800138061", "customer_no": "vip-1"})  # the same person: one contact
    out = s.orders.summary("13800138061")
    assert (out["orders"], out["spend"]) == (2, "30.00")
    assert rows(ctx, "SELECT count(DISTINCT contact_id) FROM orders") == [(1,)]


def test_amount_is_the_total_when_no_total_is_sent(s: Siyu, ctx: AppContext) -> None:
    """siyu's RFM reads an order's value from ``amount``: integrations built for it book too."""
    s.batch(
        [
            order_call("AM1", None, amount="88.8"),
            order_call("AM2", None, revenue=50, shipping=10),
            order_call("AM3", None, products=[{"price": 3, "quantity": 3}], discount=1),
            order_call("AM4", None),
        ]
    )
    got = {no: Decimal(str(t)) for _, no, t, _, _ in orders(ctx)}
    assert got == {"AM1": Decimal("88.8"), "AM2": Decimal(60), "AM3": Decimal(8)}
    assert [(p["order_id"], p["field"]) for p in s.orders.problems()["problems"]] == [("AM4", "total")]


def test_backfill_books_events_stored_before(s: Siyu, ctx: AppContext) -> None:
    """Order events already in the events table (stored before orders were booked) are booked
    by the backfill; a second run books nothing and lists no problem twice."""
    from siyu.store.changes import emit_events

    s.identify({"phone": "13800138000"})
    cid = rows(ctx, "SELECT id FROM contacts")[0][0]
    with ctx.db.session() as session:
        emit_events(
            session,
            "Order Completed",
            [("old-1", cid, {"order_id": "H1", "amount": 120, "source": "store"})],
            T0,
        )
        emit_events(session, "Order Completed", [("old-2", cid, {"order_id": "H2", "total": "x"})], T0)
        emit_events(
            session,
            "Order Refunded",
            [("old-3", cid, {"order_id": "H1", "amount": 20, "source": "store"})],
            T0,
        )
    assert orders(ctx) == []
    assert s.orders.backfill()["events"] == 3
    assert [(no, Decimal(str(r)), st) for _, no, _, r, st in orders(ctx)] == [
        ("H1", Decimal(20), "partially_refunded")
    ]
    s.orders.backfill()
    assert len(orders(ctx)) == 1 and rows(ctx, "SELECT count(*) FROM order_refunds") == [(1,)]
    assert [(p["order_id"], p["code"]) for p in s.orders.problems()["problems"]] == [("H2", "not_a_number")]


def test_problems_never_keep_a_phone_or_email(s: Siyu, ctx: AppContext) -> None:
    """The problems table outlives an erased person (it has no contact): identifiers a shop put
    in the wrong field are masked there."""
    s.batch([order_call("13912345678", "13912345678 / a.person@example.com")])
    (p,) = s.orders.problems()["problems"]
    stored = " ".join(str(v) for v in p.values())
    assert "13912345678" not in stored and "a.person@example.com" not in stored
    assert p["field"] == "total"


def test_hostile_order_shapes_are_problems_by_field_and_cost_no_neighbour(s: Siyu, ctx: AppContext) -> None:
    """What an attacker or a broken shop sends: too many lines, products that are not a list,
    a line that is not an object, an order id far too long, a refund larger than the order."""
    many = [{"product_id": f"p{i}", "price": 1, "quantity": 1} for i in range(501)]
    calls = [
        order_call("lines", 501, products=many),
        order_call("not-a-list", 5, products={"product_id": "x"}),
        order_call("not-an-object", 5, products=["x"]),
        order_call("x" * 5_000, 5),
        order_call("ok", 10),
        refund_call("ok", refund_id="r-big", amount=11),
    ]
    result = s.batch(calls)
    assert result.rejected == []  # the events are stored; only the booking is refused
    assert [no for _, no, *_ in orders(ctx)] == ["ok"]
    assert [float(r) for *_, r, _ in orders(ctx)] == [0.0]  # the over-refund took nothing
    problems = {(p["order_id"][:20], p["field"].split("[")[0]) for p in s.orders.problems()["problems"]}
    assert {("lines", "products"), ("not-a-list", "products"), ("not-an-object", "products")} <= problems
    assert any(field == "order_id" for oid, field in problems if oid.startswith("xxx"))
    assert ("ok", "amount") in problems
