"""The real Segment Python SDK (``segment-analytics-python``) against the test server.

The testers' finding: one call with a timestamp that overflows when converted to UTC made the
server answer 500; the SDK retried the batch three times and then dropped all of it. Here the
SDK queues a batch with such a call among valid ones, flushes it to ``/v1/batch``, and every
valid call must be stored exactly once, the bad one not at all, and the SDK must see no error.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from segment.analytics.client import Client
from sqlalchemy import func, select

from siyu.store.models import Event


def test_mixed_batch_through_the_real_sdk(
    server: Any, write_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[Any] = []
    sdk = Client(
        write_key,
        host=server.url,
        on_error=lambda exc, batch: errors.append((exc, batch)),
        upload_size=100,
        max_retries=3,
    )
    now = datetime.now(UTC)
    sent: list[str] = []
    overflow = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5)))
    with caplog.at_level(logging.DEBUG, logger="segment"):
        for i in range(40):
            if i == 17:
                ok, bad = sdk.track(user_id="sdk-bad", event="Broken Clock", timestamp=overflow)
                assert ok
                continue
            ok, msg = sdk.track(
                user_id=f"sdk-{i % 7}",
                event="Order Completed",
                properties={"i": i, "revenue": 9.9},
                timestamp=now - timedelta(minutes=40 - i),
            )
            assert ok
            sent.append(msg["messageId"])
        ok, msg = sdk.identify(user_id="sdk-1", traits={"name": "李雷", "email": "li.lei@example.com"})
        sent.append(msg["messageId"])
        sdk.flush()
        sdk.join()
    assert errors == []
    assert any("data uploaded successfully" in r.getMessage() for r in caplog.records)
    # sent once, not retried: a 500 would have made the SDK send the same batch again
    requests = [r.getMessage() for r in caplog.records if r.getMessage().startswith("making request")]
    assert sum(bad["messageId"] in text for text in requests) == 1
    with server.client.ctx.db.session() as s:
        ids = list(s.scalars(select(Event.message_id)))
        assert s.scalar(select(func.count()).where(Event.message_id == bad["messageId"])) == 0
    assert sorted(ids) == sorted(sent)  # every valid call, exactly once
