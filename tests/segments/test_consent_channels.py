"""Consent on channel ``*`` and on single channels, asked three ways that must agree: the
ledger (``ConsentService.allows``), a journey's send (``journeys.facts.consents``, per channel)
and the segment condition ``consent``. Testers found a contact who granted marketing on every
channel one by one, never on ``*``, counted as "unknown" for ``*`` (docs/segments.md, consent)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.segments.conftest import AS_OF

from siyu.consent.service import ConsentService
from siyu.journeys.facts import consents

H = timedelta(hours=1)
#: name → (records as (channel, granted) oldest first, state for "*", state for sms, for wecom)
LEDGERS: dict[str, tuple[list[tuple[str, bool]], str, str, str]] = {
    "granted-every-channel-one-by-one": (
        [("sms", True), ("wecom", True), ("email", True)],
        "granted",
        "granted",
        "granted",
    ),
    "granted-on-one-channel-only": ([("sms", True)], "granted", "granted", "unknown"),
    "granted-star": ([("*", True)], "granted", "granted", "granted"),
    "star-then-sms-withdrawn": ([("*", True), ("sms", False)], "withdrawn", "withdrawn", "granted"),
    "sms-withdrawn-then-star-granted": ([("sms", False), ("*", True)], "granted", "granted", "granted"),
    "star-withdrawn-then-sms-granted": ([("*", False), ("sms", True)], "withdrawn", "granted", "withdrawn"),
    "mixed-channels": ([("sms", True), ("wecom", False)], "withdrawn", "granted", "withdrawn"),
    "changed-mind-on-sms": ([("sms", False), ("sms", True)], "granted", "granted", "unknown"),
    "nothing": ([], "unknown", "unknown", "unknown"),
}


def C(channel: str, state: str) -> dict[str, Any]:
    return {"type": "consent", "purpose": "marketing", "channel": channel, "state": state}


@pytest.fixture
def ledgers(env: Any) -> dict[str, int]:
    """One contact per ledger; records one hour apart, recorded in time order."""
    uids = {name: f"c{i}" for i, name in enumerate(LEDGERS)}
    env.batch([env.call("identify", uid, AS_OF - 100 * H, traits={"n": 1}) for uid in uids.values()])
    ids = env.contact_ids()
    cid = {name: ids[uid] for name, uid in uids.items()}
    env.consent(
        [
            (cid[name], "marketing", channel, granted, AS_OF - (50 - i) * H)
            for name, (records, *_) in LEDGERS.items()
            for i, (channel, granted) in enumerate(records)
        ]
    )
    return cid


@pytest.mark.parametrize("channel", ["*", "sms", "wecom"])
def test_ledger_sends_and_segments_agree(env: Any, ledgers: dict[str, int], channel: str) -> None:
    column = {"*": 1, "sms": 2, "wecom": 3}[channel]
    expected = {name: row[column] for name, row in LEDGERS.items()}
    for state in ("granted", "withdrawn", "unknown", "not_granted"):
        members = set(env.preview_ids(C(channel, state)))
        wanted = {
            ledgers[n]
            for n, s in expected.items()
            if s == state or (state == "not_granted" and s != "granted")
        }
        assert members == wanted, (channel, state)
    with env.ctx.db.session() as s:
        svc = ConsentService(s)
        for name, state in expected.items():
            assert svc.allows(ledgers[name], "marketing", channel) is (state == "granted"), name
            assert svc.allows(ledgers[name], "marketing", channel, default=True) is (state != "withdrawn"), (
                name
            )
        if channel != "*":  # a send names one channel: the same answer
            sends = consents(s, list(ledgers.values()), "marketing", channel, False)
            assert {n: sends[c] for n, c in ledgers.items()} == {
                n: s == "granted" for n, s in expected.items()
            }
