"""The brand time zone: SIYU_TIMEZONE, then the older SIYU_DEFAULT_TIMEZONE, then the stored
setting, then Asia/Shanghai; bad names refused; the journey worker follows a stored change."""

from __future__ import annotations

import pytest

from siyu.brand import ZoneError, check_zone, describe
from siyu.config import Settings
from siyu.context import AppContext
from siyu.journeys.worker import Worker


def test_where_the_zone_comes_from(ctx: AppContext) -> None:
    settings = ctx.settings
    with ctx.db.session() as s:
        assert describe(s, settings)["timezone"] == "Asia/Shanghai"
        assert describe(s, settings)["source"] == "default"
        ctx.set_timezone(s, "Asia/Tokyo")
        assert describe(s, settings) == {
            "timezone": "Asia/Tokyo",
            "source": "stored",
            "stored": "Asia/Tokyo",
            "pinned": None,
        }
        older = settings.model_copy(update={"default_timezone": "Europe/Berlin"})
        assert describe(s, older)["timezone"] == "Europe/Berlin"
        pinned = older.model_copy(update={"timezone": "UTC"})
        assert describe(s, pinned)["timezone"] == "UTC" and describe(s, pinned)["source"] == "environment"


def test_bad_names_are_refused() -> None:
    for bad in ("Asia/Beijing", "UTC'; --", "", "../etc/passwd", 8):
        with pytest.raises(ZoneError):
            check_zone(bad)
    assert check_zone(" Asia/Shanghai ") == "Asia/Shanghai"
    with pytest.raises(ValueError, match="Asia/Beijing"):
        Settings(timezone="Asia/Beijing")


def test_the_worker_follows_the_stored_zone(ctx: AppContext) -> None:
    worker = Worker(ctx.db, ctx.keyring, ctx.settings, dispatch=False)
    try:
        assert worker.config.default_timezone == "Asia/Shanghai"
        with ctx.db.session() as s:
            ctx.set_timezone(s, "Europe/London")
        worker.tick(max_batches=1)
        assert worker.config.default_timezone == "Europe/London"
    finally:
        worker.close()
    pinned = Worker(
        ctx.db, ctx.keyring, ctx.settings.model_copy(update={"timezone": "Asia/Tokyo"}), dispatch=False
    )
    try:
        pinned.tick(max_batches=1)
        assert pinned.config.default_timezone == "Asia/Tokyo"
    finally:
        pinned.close()
