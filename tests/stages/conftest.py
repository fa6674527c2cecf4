from __future__ import annotations

from collections.abc import Iterator

import pytest

from siyu.context import AppContext
from siyu.warehouse.store import Warehouse


@pytest.fixture
def wh(ctx: AppContext) -> Iterator[Warehouse]:
    warehouse = Warehouse(ctx.settings.resolved_warehouse_path)
    yield warehouse
    warehouse.close()
