"""WeCom answers that are not answers: a 5xx with a JSON body (from WeCom's front end or a
proxy) and an errcode-0 answer without the task id. Either must read as "outcome unknown",
never as "no such task" — a lookup that finds nothing sends the message again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.channels.test_dispatcher import queue, row
from tests.channels.test_wecom import STAFF, calls, make_adapter, msg, since
from tests.emulators.wecom import EC, WeComEmulator

from siyu.channels.dispatcher import Dispatcher
from siyu.channels.http import ProviderError
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import utcnow

LIST = f"{EC}/get_groupmsg_list_v2"
CREATE = f"{EC}/add_msg_template"


@pytest.fixture
def emu() -> Iterator[WeComEmulator]:
    emulator = WeComEmulator()
    emulator.add_customer(STAFF, "wmAAA")
    with emulator.running():
        yield emulator


def test_a_5xx_with_a_json_body_is_an_error_not_an_empty_list(emu: WeComEmulator) -> None:
    adapter = make_adapter(emu)
    try:
        assert adapter.send([msg("k1", "Once https://s.example/t/a")])[0].status == "sent"
        emu.answer_next(LIST, 500, {"errmsg": "internal error"}, n=3)  # every try of the read
        with pytest.raises(ProviderError) as err:
            adapter.lookup(msg("k1", "Once https://s.example/t/a"), since())
        assert err.value.temporary and "HTTP 500" in str(err.value)
        # a read is safe to repeat: one 5xx is retried by the client and the task is found
        emu.answer_next(LIST, 503, {"errcode": 0, "group_msg_list": []}, n=1)
        found = adapter.lookup(msg("k1", "Once https://s.example/t/a"), since())
        assert found is not None and found.status == "sent"
    finally:
        adapter.close()


def test_a_create_answered_with_a_5xx_json_body_is_an_unknown_outcome(emu: WeComEmulator) -> None:
    adapter = make_adapter(emu)
    try:
        emu.answer_next(CREATE, 500, {"errcode": 0, "errmsg": "ok"})
        result = adapter.send([msg("k1", "Maybe")])[0]
        assert result.status == "retry" and result.detail["outcome_unknown"]
        assert calls(emu, "add_msg_template") == 1  # never repeated blind
    finally:
        adapter.close()


@pytest.mark.parametrize("channel", ["wecom_private", "wecom_group", "wecom_moment"])
def test_errcode_0_without_the_task_id_is_a_retry_not_a_crash(emu: WeComEmulator, channel: str) -> None:
    emu.add_group_chat(STAFF, "wrChat")
    adapter = make_adapter(emu)
    path = f"{EC}/add_moment_task" if channel == "wecom_moment" else CREATE
    try:
        emu.answer_next(path, 200, {"errcode": 0, "errmsg": "ok"})  # no msgid / jobid
        results = adapter.send([msg("k1", "No id", channel=channel), msg("k2", "Other", customer="wmAAA")])
        assert results[0].status == "retry" and results[0].detail["outcome_unknown"]
        assert "no " in (results[0].error or "")
        if channel != "wecom_private":  # the batch's other message is unaffected
            assert results[1].status == "sent"
    finally:
        adapter.close()


def test_a_lookup_answering_500_never_leads_to_a_second_send(ctx: AppContext, emu: WeComEmulator) -> None:
    s = Siyu(ctx)
    s.providers.add(
        "wecom",
        "wecom",
        {"corp_id": emu.corp_id, "base_url": emu.base_url, "default_sender": STAFF, "backoff_s": 0.001},
        {"corp_secret": emu.corp_secret},
    )
    s.identify({"phone": "+8613800138001", "wecom_external_userid": "wmAAA"})
    cid = s.contact("+8613800138001")["id"]
    text = "双十二专享 https://s.example/t/x1"
    queue(ctx, cid, "w1", channel="wecom_private", text=text)
    d = Dispatcher(ctx.db, ctx.keyring, retry_base_s=1)
    try:
        emu.drop_next_response(CREATE)  # WeCom created the task; the answer was lost
        assert d.run_once().retried == 1
        emu.answer_next(LIST, 500, {"errmsg": "upstream failed"}, n=1000)
        later = utcnow()
        for _ in range(3):  # each attempt's lookup fails: the row waits, nothing is sent
            later += timedelta(hours=2)
            stats = d.run_once(now=later)
            assert stats.claimed == 1 and stats.sent == 0
            assert "lookup" in (row(ctx, "w1").error or "")
        assert calls(emu, "add_msg_template") == 1 and emu.tasks_with_text(text) == 1
        emu.recover()
        stats = d.run_once(now=later + timedelta(hours=2))
        assert stats.found == 1  # found by lookup, not sent again
    finally:
        d.close()
    assert emu.tasks_with_text(text) == 1 and calls(emu, "add_msg_template") == 1
    assert row(ctx, "w1").status == "sent"
