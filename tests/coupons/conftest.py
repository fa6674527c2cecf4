"""Fixtures of the coupons tests: a template factory (contacts come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from siyu.context import AppContext
from siyu.coupons.templates import TemplateService

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def template(ctx: AppContext) -> Callable[..., str]:
    def make(key: str = "spring", **fields: Any) -> str:
        data = {"key": key, "name": "春季券", "kind": "fixed", "amount": "20", "valid_days": 30, **fields}
        with ctx.db.session() as s:
            TemplateService(s, now=NOW).create(data)
        return key

    return make
