"""Which field each column of an import file feeds: the header as a Chinese spreadsheet writes
it (手机, 姓名, 会员号, 生日…) maps without ``--map``.

A column is, in this order: what ``--map`` says (``-`` skips it); an identifier type by name
(``phone``, ``customer_no``…); a known alias (手机号 → phone, 姓名 → name); otherwise a trait
under its own header. Headers are compared normalised (NFKC, lower case, no spaces, ``_``,
``-``, ``.``, trailing ``*`` or a parenthesised note such as ``手机号（必填）``), so the variants
of one column that templates from different systems produce all match.

Values of date fields (生日) are read from the ways spreadsheets write dates (``1990/5/1``,
``1990年5月1日``, ``19900501``, Excel date cells) and stored as ISO dates, which is what the
birthday journeys and segments compare; a date that does not exist (``2000-02-30``) is reported
and left out of the row, which is still imported.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from siyu.profiles.identifiers import IDENTIFIER_PRIORITY

#: Field → aliases (written as people write them; normalised when the table is built).
CONTACT_ALIASES: dict[str, tuple[str, ...]] = {
    "phone": (
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "电话号码",
        "联系电话",
        "联系方式",
        "移动电话",
        "mobile",
        "mobilephone",
        "phonenumber",
        "tel",
        "telephone",
        "cellphone",
    ),
    "email": ("邮箱", "电子邮箱", "邮件", "电子邮件", "邮箱地址", "e-mail", "mail", "emailaddress"),
    "customer_no": (
        "会员号",
        "会员编号",
        "会员卡号",
        "会员id",
        "客户编号",
        "客户号",
        "客户id",
        "用户id",
        "memberid",
        "memberno",
        "customerid",
        "userid",
    ),
    "wechat_unionid": ("unionid", "微信unionid"),
    "wecom_external_userid": ("externaluserid", "企微外部联系人id", "外部联系人id"),
    "taobao_nick": ("淘宝昵称", "旺旺", "旺旺号", "淘宝账号"),
    "douyin_openid": ("抖音openid",),
    "name": ("姓名", "名字", "客户姓名", "会员姓名", "用户名", "称呼", "fullname", "customername"),
    "gender": ("性别", "sex"),
    "birthday": ("生日", "出生日期", "出生年月日", "birthdate", "dateofbirth", "dob"),
    "city": ("城市", "所在城市", "所在地"),
    "province": ("省份", "省", "所在省份"),
    "district": ("区县", "地区"),
    "address": ("地址", "收货地址", "详细地址", "联系地址"),
    "company": ("公司", "公司名称", "单位"),
    "note": ("备注", "说明"),
    "store": ("门店", "所属门店", "开卡门店"),
    "level": ("会员等级", "等级"),
    "points": ("积分", "会员积分"),
}
EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "event": ("事件", "事件名", "事件名称", "行为"),
    "timestamp": ("时间", "发生时间", "事件时间"),
    **{k: v for k, v in CONTACT_ALIASES.items() if k in IDENTIFIER_PRIORITY},
}
#: Traits whose values are calendar dates.
DATE_FIELDS = frozenset({"birthday"})
_NOTE = re.compile(r"[（(【\[].*?[）)】\]]")
_STRIP = re.compile(r"[\s_\-.*：:]+")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def normalise_header(header: str) -> str:
    """``手机号（必填）`` → ``手机号``, ``E-Mail `` → ``email``, ``Customer_No`` → ``customerno``."""
    text = unicodedata.normalize("NFKC", header).strip().lstrip("\ufeff")
    text = _NOTE.sub("", text)
    return _STRIP.sub("", text).lower()


def _table(aliases: dict[str, tuple[str, ...]], kind: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for fld, names in aliases.items():
        for name in (fld, *names):
            out.setdefault(normalise_header(name), fld)
    for fld in IDENTIFIER_PRIORITY:  # "customer_no" written as "Customer No"
        out.setdefault(normalise_header(fld), fld)
    if kind == "events":
        for fld in ("messageId", "userId", "anonymousId", "type"):
            out.setdefault(normalise_header(fld), fld)
    return out


_TABLES = {"contacts": _table(CONTACT_ALIASES, "contacts"), "events": _table(EVENT_ALIASES, "events")}


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """One column: the field it feeds (``-`` when skipped) and why: ``given`` by --map,
    ``identifier`` by its name, ``alias``, ``own`` (a trait or property under its own name),
    ``skipped``."""

    column: str
    field: str
    how: str

    def as_dict(self) -> dict[str, str]:
        return {"column": self.column, "field": self.field, "how": self.how}


def plan_columns(headers: Iterable[str], kind: str, given: dict[str, str] | None = None) -> list[ColumnPlan]:
    """The field of every column (see the module docstring). Two columns feeding one field
    keep both (the later one wins per row), which the preview shows."""
    given = given or {}
    table = _TABLES["events" if kind == "events" else "contacts"]
    plans: list[ColumnPlan] = []
    for column in headers:
        column = str(column)
        if column in given:
            target = given[column]
            plans.append(ColumnPlan(column, target, "skipped" if target == "-" else "given"))
        elif column in IDENTIFIER_PRIORITY:
            plans.append(ColumnPlan(column, column, "identifier"))
        elif not column.strip():
            plans.append(ColumnPlan(column, "-", "skipped"))
        elif (alias := table.get(normalise_header(column))) is not None:
            how = "alias" if alias != column else "identifier" if alias in IDENTIFIER_PRIORITY else "own"
            plans.append(ColumnPlan(column, alias, how))
        else:
            plans.append(ColumnPlan(column, column.strip(), "own"))
    return plans


def mapping_of(plans: list[ColumnPlan]) -> dict[str, str]:
    """The plan as the ``column → field`` mapping the readers apply."""
    return {p.column: p.field for p in plans}


class BadDate(ValueError):
    pass


def parse_date(value: Any) -> str:
    """An ISO date (``YYYY-MM-DD``) from what a spreadsheet holds; BadDate when it is not a
    date or names a day that does not exist (``2000-02-30``)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = unicodedata.normalize("NFKC", str(value)).strip()
    match = _DATE.match(text) or _COMPACT.match(text)
    if match is None:
        raise BadDate(f"{text[:40]!r} is not a date (write it as 1990-05-01)")
    y, m, d = (int(g) for g in match.groups())
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        raise BadDate(f"{text[:40]!r} is not a day of the calendar") from None


__all__ = [
    "DATE_FIELDS",
    "BadDate",
    "ColumnPlan",
    "mapping_of",
    "normalise_header",
    "parse_date",
    "plan_columns",
]
