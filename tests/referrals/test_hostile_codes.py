"""Hostile ``referral_code`` and ``promoter_code`` values on the ingest path: oversized, not
text, nested, with a huge device id and IP. Every call is still accepted as an event, none of
them attributes or binds anyone, and a valid neighbour in the same batch is attributed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from tests.referrals.conftest import T0
from tests.referrals.test_attribution import code_of

from siyu.client import Siyu
from siyu.store.models import Referral

JUNK: list[Any] = ["x" * 5_000, 12345, {"code": "abc"}, ["abc"], "   ", None, "💥" * 40, "A" * 31]


def _call(
    who: str, referral: Any, promoter: Any, i: int, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "track",
        "event": "Page Viewed",
        "identifiers": {"customer_no": who},
        "properties": {"referral_code": referral, "promoter_code": promoter},
        "timestamp": (T0 + timedelta(minutes=i)).isoformat(),
    }
    if context is not None:
        call["context"] = context
    return call


def test_junk_codes_attribute_and_bind_nobody_and_cost_no_neighbour(
    client: Siyu, campaign: Callable[..., str]
) -> None:
    key = campaign()
    good = code_of(client, key, "A")
    client.distribution.set_settings({"enabled": True, "mode": "everyone"})
    promoter = client.distribution.apply("customer_no:A")["code"]  # approved at once (everyone)
    calls = [_call(f"J{i}", value, value, i) for i, value in enumerate(JUNK)]
    huge = {"device": {"id": "d" * 10_000}, "ip": "9" * 5_000}
    calls.append(_call("GOOD", good, promoter, len(JUNK), huge))
    result = client.batch(calls)
    assert result.rejected == [] and result.accepted == len(calls)

    rows = client.referrals.list(key)
    assert [r["invitee_id"] for r in rows] == [client.contact("customer_no:GOOD")["id"]]
    with client.ctx.db.session() as s:
        edge = s.scalars(select(Referral)).one()
        assert len(edge.device or "") <= 128 and len(edge.ip or "") <= 64  # kept within the columns
    assert client.distribution.binding("customer_no:GOOD") is not None
    assert [i for i in range(len(JUNK)) if client.distribution.binding(f"customer_no:J{i}")] == []
