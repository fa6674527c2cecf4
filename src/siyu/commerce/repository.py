"""Set-based reads and writes of orders: one query per chunk of a batch, never one per order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from siyu.store.dialect import chunked, copy_insert_returning
from siyu.store.models import (
    Channel,
    ContactFollow,
    LoyaltyMember,
    Order,
    OrderLine,
    OrderProblem,
    OrderRefund,
)

#: Channel kind of an order source seen for the first time (the key names the shop platform);
#: unknown platforms (有赞, the subscription renewals, the API) are "other".
SOURCE_KINDS = {
    "mini_program": "mini_program",
    "app": "app",
    "store": "store",
    "douyin": "douyin",
    "taobao": "taobao",
    "kuaishou": "kuaishou",
    "xiaohongshu": "xiaohongshu",
    "wecom": "wecom",
    "official_account": "official_account",
}
#: Display names of the usual sources, so the console shows 有赞 rather than ``youzan``.
SOURCE_NAMES = {
    "mini_program": "小程序",
    "youzan": "有赞",
    "taobao": "淘宝",
    "douyin": "抖音",
    "store": "门店",
    "kuaishou": "快手",
    "xiaohongshu": "小红书",
    "subscription": "周期购",
    "api": "API",
}


def insert_statement(session: Session, table: Any, conflict: list[str]) -> Any:
    """INSERT … ON CONFLICT (conflict) DO NOTHING for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=conflict)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict)


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def channel_ids(self, keys: Iterable[str]) -> dict[str, int]:
        keys = sorted(set(keys))
        out: dict[str, int] = {}
        for chunk in chunked(keys):
            out.update(
                self.session.execute(select(Channel.key, Channel.id).where(Channel.key.in_(chunk))).all()
            )
        return out

    def insert_orders(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        """Insert orders, skipping any already booked by (source, order_no); the ids of those
        this call inserted. PostgreSQL goes through COPY (see ``copy_insert_returning``)."""
        new_ids: dict[tuple[str, str], int] = {}
        if not rows:
            return new_ids
        if self.session.get_bind().dialect.name == "postgresql":
            cols = list(rows[0])
            data = [
                tuple(orjson.dumps(r[c]).decode() if c == "properties" else r[c] for c in cols) for r in rows
            ]
            got = copy_insert_returning(
                self.session, "orders", cols, data, "source, order_no", "id, source, order_no"
            )
            return {(source, order_no): int(oid) for oid, source, order_no in got}
        table = Order.__table__
        stmt = insert_statement(self.session, table, ["source", "order_no"]).returning(
            table.c.id, table.c.source, table.c.order_no
        )
        for chunk in chunked(rows, 2_000):
            for oid, source, order_no in self.session.execute(stmt, list(chunk)):
                new_ids[(source, order_no)] = oid
        return new_ids

    def existing(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """(source, order_no) → order id for the orders among ``keys`` already booked."""
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, order_no in set(keys):
            by_source[source].append(order_no)
        out: dict[tuple[str, str], int] = {}
        for source, numbers in by_source.items():
            for chunk in chunked(sorted(numbers)):
                rows = self.session.execute(
                    select(Order.order_no, Order.id).where(Order.source == source, Order.order_no.in_(chunk))
                )
                out.update({(source, no): oid for no, oid in rows})
        return out

    def orders_for_update(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Order]:
        """The orders among ``keys``, locked until the transaction ends (PostgreSQL), so two
        concurrent refunds of one order cannot both take what is left of it."""
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, order_no in set(keys):
            by_source[source].append(order_no)
        out: dict[tuple[str, str], Order] = {}
        for source, numbers in by_source.items():
            for chunk in chunked(sorted(numbers)):
                stmt = (
                    select(Order)
                    .where(Order.source == source, Order.order_no.in_(chunk))
                    .order_by(Order.id)
                    .with_for_update()
                )
                out.update({(o.source, o.order_no): o for o in self.session.scalars(stmt)})
        return out

    def by_ids(self, ids: list[int]) -> list[Any]:
        """What settling needs of the orders (id, contact, number, total, time) as plain rows:
        loading thousands of ORM objects per batch cost more than booking the orders."""
        out: list[Any] = []
        cols = (Order.id, Order.contact_id, Order.source, Order.order_no, Order.total, Order.ordered_at)
        for chunk in chunked(sorted(ids)):
            out.extend(self.session.execute(select(*cols).where(Order.id.in_(chunk)).order_by(Order.id)))
        return out

    def members(self, contact_ids: Iterable[int]) -> set[int]:
        """The contacts among ``contact_ids`` with a loyalty card (any status)."""
        out: set[int] = set()
        for chunk in chunked(sorted(set(contact_ids))):
            out.update(
                self.session.scalars(
                    select(LoyaltyMember.contact_id).where(LoyaltyMember.contact_id.in_(chunk))
                )
            )
        return out

    def refund_numbers(self, order_ids: Iterable[int]) -> set[tuple[int, str]]:
        out: set[tuple[int, str]] = set()
        for chunk in chunked(sorted(set(order_ids))):
            rows = self.session.execute(
                select(OrderRefund.order_id, OrderRefund.refund_no).where(OrderRefund.order_id.in_(chunk))
            )
            out.update((oid, no) for oid, no in rows)
        return out

    def lines_of(self, order_ids: Iterable[int]) -> dict[int, list[OrderLine]]:
        out: dict[int, list[OrderLine]] = defaultdict(list)
        for chunk in chunked(sorted(set(order_ids))):
            stmt = select(OrderLine).where(OrderLine.order_id.in_(chunk)).order_by(OrderLine.position)
            for line in self.session.scalars(stmt):
                out[line.order_id].append(line)
        return out

    def followers(self, contact_ids: Iterable[int]) -> dict[int, str]:
        """Each contact's WeCom follower: the earliest-added relation still in place (the staff
        member who brought the customer keeps the credit when colleagues add them later)."""
        out: dict[int, str] = {}
        for chunk in chunked(sorted(set(contact_ids))):
            stmt = (
                select(ContactFollow.contact_id, ContactFollow.staff_userid)
                .where(ContactFollow.contact_id.in_(chunk), ContactFollow.deleted_at.is_(None))
                .order_by(ContactFollow.contact_id, ContactFollow.added_at, ContactFollow.id)
            )
            for cid, userid in self.session.execute(stmt):
                out.setdefault(cid, userid)
        return out

    def record_problems(self, rows: list[dict[str, Any]]) -> None:
        """Write problems, leaving out one already listed for the same event and reason (an
        event handed over again, by a backfill, is not listed twice)."""
        ids = sorted({str(r["message_id"]) for r in rows if r.get("message_id")})
        listed: set[tuple[str, str]] = set()
        for chunk in chunked(ids):
            stmt = select(OrderProblem.message_id, OrderProblem.code).where(
                OrderProblem.message_id.in_(chunk)
            )
            listed.update((m, c) for m, c in self.session.execute(stmt))
        fresh = [r for r in rows if (r.get("message_id"), r["code"]) not in listed]
        if fresh:
            self.session.execute(OrderProblem.__table__.insert(), fresh)

    # --- reads for the interfaces -------------------------------------------------------------
    def get(self, source: str, order_no: str) -> Order | None:
        return self.session.scalar(select(Order).where(Order.source == source, Order.order_no == order_no))

    def refunds_of(self, order_id: int) -> list[OrderRefund]:
        stmt = select(OrderRefund).where(OrderRefund.order_id == order_id).order_by(OrderRefund.refunded_at)
        return list(self.session.scalars(stmt))

    def search(
        self,
        *,
        contact_id: int | None = None,
        source: str | None = None,
        status: str | None = None,
        staff: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Order], int]:
        """Orders newest first with the filters given, and how many match in all."""
        conds = []
        if contact_id is not None:
            conds.append(Order.contact_id == contact_id)
        if source:
            conds.append(Order.source == source)
        if status:
            conds.append(Order.status == status)
        if staff:
            conds.append(Order.staff_userid == staff)
        if since is not None:
            conds.append(Order.ordered_at >= since)
        if until is not None:
            conds.append(Order.ordered_at < until)
        where = and_(*conds) if conds else None
        stmt = select(Order).order_by(Order.ordered_at.desc(), Order.id.desc()).limit(limit).offset(offset)
        count = select(func.count()).select_from(Order)
        if where is not None:
            stmt, count = stmt.where(where), count.where(where)
        return list(self.session.scalars(stmt)), int(self.session.scalar(count) or 0)

    def problems(self, limit: int = 100, offset: int = 0) -> tuple[list[OrderProblem], int]:
        stmt = select(OrderProblem).order_by(OrderProblem.id.desc()).limit(limit).offset(offset)
        total = self.session.scalar(select(func.count()).select_from(OrderProblem)) or 0
        return list(self.session.scalars(stmt)), int(total)
