"""Fixtures of the list and export tests: a small brand with Chinese names, phones, tags,
stages and a segment, written through the Python API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from siyu.client import Siyu
from siyu.context import AppContext

PEOPLE = [
    # name, phone, email, tag
    ("王小明", "13800135678", "wang@example.com", "vip"),
    ("李四", "13912345678", None, "vip"),
    ("张三", "13700001234", "zhang@example.cn", None),
    ('=HYPERLINK("http://x")', "13600009999", None, None),
]


@dataclass
class Brand:
    s: Siyu
    ids: dict[str, int]  # name → contact id


def make_brand(ctx: AppContext) -> Brand:
    s = Siyu(ctx)
    ids = {}
    for i, (name, phone, email, tag) in enumerate(PEOPLE):
        identifiers = {"phone": phone, "customer_no": f"C{i:03d}"}
        if email:
            identifiers["email"] = email
        s.identify(identifiers, traits={"name": name})
        ids[name] = int(s.contact(phone)["id"])
        if tag:
            s.tags.apply(tag, [ids[name]], create=True, actor="test")
    s.segments.create(
        {"key": "vip-buyers", "name": "VIP 客户", "definition": {"type": "tags", "tags": ["vip"]}}
    )
    return Brand(s, ids)


@pytest.fixture
def brand(ctx: AppContext) -> Brand:
    return make_brand(ctx)
