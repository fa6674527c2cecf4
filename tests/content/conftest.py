"""A small audience for the content tests: three customers with traits, tags and stages, and
one with nothing at all, written through the Python API and the tag and stage services."""

from __future__ import annotations

from typing import Any

import pytest

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.stages.service import StageService
from siyu.tags.service import TagService

PEOPLE: dict[str, dict[str, Any]] = {
    "c1": {"phone": "+8613800000001", "name": "张三", "city": "上海", "points": 120, "referral_code": "ZS01"},
    "c2": {"phone": "+8613800000002", "nickname": "小李", "timezone": "America/New_York"},
    "c3": {"phone": "+8613800000003", "name": "王五", "points": 7.5},
    "bare": {},
}
TAGS = {"c1": ["vip", "interest/tea"], "c2": ["interest/tea"], "c3": []}
STAGE = {"c1": "repurchase", "c3": "retention"}


@pytest.fixture
def people(ctx: AppContext) -> dict[str, int]:
    """customer_no → contact id."""
    calls = [
        {"type": "identify", "userId": uid, "traits": traits, "messageId": f"id-{uid}"}
        for uid, traits in PEOPLE.items()
    ]
    calls[-1]["traits"] = {"plan": "none"}  # identify needs something; "plan" is no variable
    result = Siyu(ctx).batch(calls)
    assert result.rejected == [], result.rejected
    with ctx.db.session() as s:
        profiles = ctx.profiles(s)
        ids = {uid: profiles.resolve(ctx.parser.parse("customer_no", uid)) for uid in PEOPLE}
        tags = TagService(s)
        for uid, keys in TAGS.items():
            for key in keys:
                tags.apply(key, [ids[uid]], create=True)
        for uid, stage in STAGE.items():
            StageService(s).set_stage(ids[uid], stage, "test")
    return ids  # type: ignore[return-value]
