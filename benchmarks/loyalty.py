"""Loyalty: orders booked (and points awarded) per second through ingest, with tiers and coupons
active, and the expiry job over a million members.

    python benchmarks/loyalty.py [--members 20000] [--orders 40000] [--batch 500]
        [--expiry-members 1000000] [--database-url postgresql+psycopg://…]

Orders: ``--members`` contacts are enrolled in a programme with three tiers (the second gives
an upgrade coupon) and a 7-day pending window; a tenth of them hold a ¥10 coupon. Then
``--orders`` ``Order Completed`` calls (two product lines each; one in ten redeems the
member's coupon) go through the same path as ``POST /v1/batch`` (validate, resolve, store the
event, book the order, award points, redeem the coupon, evaluate tiers) in batches of
``--batch``, one transaction each. The baseline is the same number of ``Product Viewed`` calls
for the same contacts through the same path in the same run: ``ratio`` = orders/s ÷ events/s
is what booking costs on top of storing the event.

Expiry: ``--expiry-members`` members are bulk-loaded with one award each, all expiring at the
same instant; ``notify_s`` is the ``Points Expiring`` notice job run 30 days before, and
``expire_s`` the expiry job run just after (each to the end, in its batches).

Figures: ``orders_per_s``, ``baseline_events_per_s``, ``ratio``, ``orders``, ``awards``,
``coupons_redeemed``, ``upgrades``, ``verify_ok``; ``expiry_members``, ``notify_s``,
``expire_s``, ``expired_members_per_s``. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from siyu.client import Siyu  # noqa: E402
from siyu.config import Settings  # noqa: E402
from siyu.context import AppContext  # noqa: E402
from siyu.coupons.service import CouponService  # noqa: E402
from siyu.coupons.templates import TemplateService  # noqa: E402
from siyu.loyalty.jobs import run_jobs  # noqa: E402
from siyu.loyalty.programme import update_programme  # noqa: E402
from siyu.loyalty.service import LoyaltyService  # noqa: E402
from siyu.loyalty.tiers import add_tier  # noqa: E402
from siyu.loyalty.verify import verify  # noqa: E402
from siyu.store.bulk import analyze, bulk_insert, max_id, sync_sequence  # noqa: E402
from siyu.store.dialect import storage_time  # noqa: E402
from siyu.store.models import Coupon, Order, PointsEntry, TierChange  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--members", type=int, default=20_000)
    p.add_argument("--orders", type=int, default=40_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--expiry-members", type=int, default=1_000_000)
    p.add_argument("--database-url", default=None)
    args = p.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if args.database_url:  # a schema of its own, dropped after, so runs never see each other
        admin = create_engine(args.database_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        out = run(args, schema)
    finally:
        if args.database_url:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print(json.dumps(out))


def _context(args: argparse.Namespace, schema: str, tmp: str) -> AppContext:
    url = args.database_url
    if url:
        url += f"{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    settings = Settings(
        data_dir=Path(tmp),
        database_url=url or f"sqlite:///{tmp}/siyu.db",
        secret_key=base64.b64encode(b"b" * 32).decode(),
    )
    ctx = AppContext.from_settings(settings)
    ctx.db.upgrade()
    return ctx


def _setup(ctx: AppContext, client: Siyu, members: int) -> dict[int, str]:
    """Contacts, the programme, tiers, a coupon campaign; returns member → coupon code."""
    for start in range(0, members, 1000):
        calls = [
            {"type": "identify", "identifiers": {"customer_no": f"c{i}"}, "traits": {"name": f"N{i}"}}
            for i in range(start, min(members, start + 1000))
        ]
        assert client.batch(calls).rejected == []
    with ctx.db.session() as s:
        update_programme(s, {"pending_days": 7, "earn_per_yuan": 1, "default_validity": "1Y"})
        TemplateService(s).create(
            {"key": "upgrade", "name": "升级礼", "kind": "fixed", "amount": 20, "valid_days": 30}
        )
        TemplateService(s).create(
            {
                "key": "bench10",
                "name": "满50减10",
                "kind": "threshold",
                "amount": 10,
                "min_order": 50,
                "valid_days": 30,
            }
        )
        add_tier(s, "base", {"name": "普通会员", "rank": 0, "threshold": 0})
        add_tier(s, "silver", {"name": "银卡", "rank": 1, "threshold": 1000, "upgrade_coupon": "upgrade"})
        add_tier(s, "gold", {"name": "金卡", "rank": 2, "threshold": 5000, "multiplier": 2})
    ids = _contact_ids(ctx, members)
    with ctx.db.session() as s:
        service = LoyaltyService(s)
        for cid in ids:
            service.enrol(cid, source="mini_program")
    codes: dict[int, str] = {}
    with ctx.db.session() as s:
        issued = CouponService(s).issue_many(
            "bench10", ids[::10], issued_by="benchmark", external_prefix="bench"
        )
        codes = {cid: c.code for cid, c in issued.items() if c is not None}
    return codes


def _contact_ids(ctx: AppContext, members: int) -> list[int]:
    with ctx.db.session() as s:
        rows = s.execute(text("SELECT id FROM contacts ORDER BY id")).scalars().all()
    assert len(rows) >= members
    return [int(r) for r in rows[:members]]


def _calls(
    n: int, members: int, event: str, codes_by_index: dict[int, str], t0: datetime
) -> list[dict[str, Any]]:
    calls = []
    for i in range(n):
        who = i % members
        when = (t0 + timedelta(seconds=i)).isoformat()
        props: dict[str, Any]
        if event == "Order Completed":
            props = {
                "order_id": f"o{i}",
                "total": 188 + i % 300,
                "currency": "CNY",
                "source": "mini_program",
                "products": [
                    {"product_id": f"p{i % 50}", "price": 99, "quantity": 1},
                    {"product_id": f"p{(i + 7) % 50}", "price": 89 + i % 300, "quantity": 1},
                ],
            }
            code = codes_by_index.get(who)
            if code and i < members:  # each holder redeems once, on their first order
                props["coupon"] = code
        else:
            props = {"product_id": f"p{i % 50}", "price": 99}
        calls.append(
            {
                "type": "track",
                "event": event,
                "messageId": f"{event[:1]}-{i}",
                "identifiers": {"customer_no": f"c{who}"},
                "properties": props,
                "timestamp": when,
            }
        )
    return calls


def _ingest(client: Siyu, calls: list[dict[str, Any]], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(calls), batch):
        result = client.batch(calls[start : start + batch])
        assert result.rejected == [], result.rejected[:3]
    return time.perf_counter() - started


def _expiry(ctx: AppContext, n: int) -> dict[str, Any]:
    """``n`` members with one award each, expiring together; the notice and expiry jobs."""
    engine = ctx.db.engine
    stamp = storage_time(engine.dialect.name)
    now = datetime.now(UTC).replace(microsecond=0)
    expires = now + timedelta(days=400)
    first = max_id(engine, "contacts") + 1
    created = stamp(now)
    ids = range(first, first + n)
    bulk_insert(engine, "contacts", ("id", "created_at", "updated_at"), ((i, created, created) for i in ids))
    bulk_insert(
        engine,
        "loyalty_members",
        ("contact_id", "member_no", "status", "checkin_streak", "enrolled_at", "updated_at"),
        ((i, f"B{i}", "active", 0, created, created) for i in ids),
    )
    bulk_insert(
        engine,
        "points_entries",
        (
            "contact_id",
            "kind",
            "points",
            "remaining",
            "status",
            "source",
            "reason",
            "available_at",
            "expires_at",
            "actor",
            "created_at",
            "shortfall",
        ),
        (
            (i, "award", 100, 100, "active", "order", "bench", created, stamp(expires), "system", created, 0)
            for i in ids
        ),
    )
    for table in ("contacts", "points_entries"):
        sync_sequence(engine, table)
    analyze(engine, ["contacts", "loyalty_members", "points_entries"])
    started = time.perf_counter()
    notified = run_jobs(ctx.db, expires - timedelta(days=30), only=["notify"])
    notify_s = time.perf_counter() - started
    started = time.perf_counter()
    expired = run_jobs(ctx.db, expires + timedelta(seconds=1), only=["expire"])
    expire_s = time.perf_counter() - started
    with ctx.db.session() as s:
        left = s.scalar(
            select(func.count(PointsEntry.id)).where(
                PointsEntry.kind == "award", PointsEntry.status == "active", PointsEntry.reason == "bench"
            )
        )
    return {
        "expiry_members": n,
        "notified": notified.get("notify", 0),
        "notify_s": round(notify_s, 2),
        "expired": expired.get("expire", 0),
        "expire_s": round(expire_s, 2),
        "expired_members_per_s": round(n / expire_s) if expire_s else None,
        "still_active_after_expiry": left,
    }


def run(args: argparse.Namespace, schema: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = _context(args, schema, tmp)
        client = Siyu(ctx)
        codes = _setup(ctx, client, args.members)
        ids = _contact_ids(ctx, args.members)
        by_index = {ids.index(cid): code for cid, code in codes.items()}
        t0 = datetime.now(UTC) - timedelta(days=1)
        views = _calls(args.orders, args.members, "Product Viewed", {}, t0)
        orders = _calls(args.orders, args.members, "Order Completed", by_index, t0)
        baseline_s = _ingest(client, views, args.batch)
        orders_s = _ingest(client, orders, args.batch)
        with ctx.db.session() as s:
            booked = s.scalar(select(func.count(Order.id)))
            awards = s.scalar(select(func.count(PointsEntry.id)).where(PointsEntry.kind == "award"))
            redeemed = s.scalar(select(func.count(Coupon.id)).where(Coupon.status == "redeemed"))
            upgrades = s.scalar(select(func.count(TierChange.id)).where(TierChange.kind == "upgrade"))
            report = verify(s)
        out: dict[str, Any] = {
            "database": "postgresql" if args.database_url else "sqlite",
            "members": args.members,
            "orders": booked,
            "awards": awards,
            "coupons_redeemed": redeemed,
            "coupon_holders": len(codes),
            "upgrades": upgrades,
            "verify_ok": report["ok"],
            "orders_per_s": round(args.orders / orders_s),
            "baseline_events_per_s": round(args.orders / baseline_s),
            "ratio": round(baseline_s / orders_s, 3),
        }
        if args.expiry_members:
            out.update(_expiry(ctx, args.expiry_members))
        ctx.close()
    return out


if __name__ == "__main__":
    main()
