"""Orders from a CSV file (``siyu orders import FILE``): one row per order line; rows sharing
``source`` and ``order_id`` are one order. Errors name the row (as a spreadsheet numbers it, the
header being row 1) and the field; the valid orders are kept.

Columns: ``order_id`` and ``total`` (required), at least one identifier column named after its
type (``customer_no``, ``phone``, ``email``, ``wechat_unionid`` …), optionally ``source``,
``ordered_at`` (a time without an offset is the brand's local time), ``currency``, ``coupon``,
``staff``, ``discount``, ``shipping``, ``tax``, ``revenue`` and the line's ``product_id``,
``sku``, ``name``, ``category``, ``price``, ``quantity``. Chinese headers (订单号, 实付金额 …)
are read too.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from siyu.commerce.schemas import CommerceError
from siyu.profiles.identifiers import IDENTIFIER_TYPES

ORDER_FIELDS = ("source", "currency", "coupon", "staff", "discount", "shipping", "tax", "revenue", "total")
LINE_FIELDS = ("product_id", "sku", "name", "category", "price", "quantity")
#: Chinese headers an export from a shop back office carries.
ALIASES = {
    "订单号": "order_id",
    "订单编号": "order_id",
    "渠道": "source",
    "来源": "source",
    "实付金额": "total",
    "订单金额": "total",
    "下单时间": "ordered_at",
    "币种": "currency",
    "优惠券": "coupon",
    "导购": "staff",
    "优惠金额": "discount",
    "运费": "shipping",
    "税费": "tax",
    "商品编号": "product_id",
    "商品名称": "name",
    "商品分类": "category",
    "单价": "price",
    "数量": "quantity",
    "手机号": "phone",
    "会员号": "customer_no",
    "客户编号": "customer_no",
    "邮箱": "email",
}
MAX_ROWS = 1_000_000


@dataclass
class ParsedFile:
    """The orders of a file as REST-style order objects, the first row of each, and the errors."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    row_count: int = 0


def read_orders(path: Path, tz: str) -> ParsedFile:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GB18030
        try:
            content = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise CommerceError("file", "is neither UTF-8 nor GB18030 text", "bad_encoding")
    return parse_rows(csv.reader(io.StringIO(content)), tz)


def parse_rows(reader: Any, tz: str) -> ParsedFile:
    out = ParsedFile()
    header = next(reader, None)
    if not header:
        raise CommerceError("file", "is empty (no header row)", "empty")
    names = [ALIASES.get(h.strip(), h.strip().lower()) for h in header]
    if "order_id" not in names:
        raise CommerceError("order_id", "the file has no order_id column", "missing_column")
    id_columns = [n for n in names if n in IDENTIFIER_TYPES]
    if not id_columns:
        types = ", ".join(IDENTIFIER_TYPES)
        raise CommerceError("identifiers", f"the file needs an identifier column ({types})", "missing_column")
    zone = ZoneInfo(tz)
    by_key: dict[tuple[str, str], int] = {}
    bad_keys: set[tuple[str, str]] = set()
    for number, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        out.row_count += 1
        if out.row_count > MAX_ROWS:
            out.errors.append({"row": number, "field": "file", "message": f"more than {MAX_ROWS:,} rows"})
            break
        row = {n: v.strip() for n, v in zip(names, values, strict=False) if v.strip()}
        order_id = row.get("order_id")
        if not order_id:
            out.errors.append({"row": number, "field": "order_id", "message": "is required"})
            continue
        key = (row.get("source", "").lower(), order_id)
        if key in bad_keys:
            continue
        try:
            at = _time(row.get("ordered_at"), zone)
        except CommerceError as exc:
            out.errors.append({"row": number, "field": exc.field, "message": exc.message})
            bad_keys.add(key)
            continue
        line = {k: row[k] for k in LINE_FIELDS if k in row}
        if key in by_key:  # a further line of an order already started
            if line:
                out.orders[by_key[key]].setdefault("products", []).append(line)
            continue
        order: dict[str, Any] = {"order_id": order_id, **{k: row[k] for k in ORDER_FIELDS if k in row}}
        order["identifiers"] = {k: row[k] for k in id_columns if k in row}
        if at is not None:
            order["ordered_at"] = at.isoformat()
        if line:
            order["products"] = [line]
        by_key[key] = len(out.orders)
        out.orders.append(order)
        out.rows.append(number)
    return out


def _time(value: str | None, zone: ZoneInfo) -> datetime | None:
    if not value:
        return None
    text = value.replace("/", "-")
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CommerceError(
            "ordered_at", f"not a time (YYYY-MM-DD HH:MM): {value[:40]!r}", "bad_time"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)
