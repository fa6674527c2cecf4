"""The receiver's protocol: URL check, refusals (each changes nothing), retries and replays
stored and processed once."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import func, select
from tests.emulators.wecom_inflow import encrypt, sign
from tests.wecom.conftest import Inflow

from siyu.channels.providers import ProviderError
from siyu.store.models import Event, WeComCallback


def _counts(inflow: Inflow) -> tuple[int, int]:
    with inflow.client.ctx.db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(WeComCallback)) or 0,
            s.scalar(select(func.count()).select_from(Event)) or 0,
        )


def _wait_processed(inflow: Inflow, n: int, timeout: float = 20) -> list[WeComCallback]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with inflow.client.ctx.db.session() as s:
            rows = list(s.scalars(select(WeComCallback).order_by(WeComCallback.id)))
            if len(rows) >= n and all(r.status != "pending" for r in rows):
                s.expunge_all()
                return rows
        time.sleep(0.05)
    raise AssertionError("callbacks were not processed in time")


def test_url_check_round_trips(inflow: Inflow) -> None:
    query, echo = inflow.emu.url_check()
    resp = httpx.get(inflow.url, params=query)
    assert resp.status_code == 200 and resp.text == echo
    assert resp.headers["content-type"].startswith("text/plain")
    bad = dict(query, msg_signature="0" * 40)
    assert httpx.get(inflow.url, params=bad).status_code == 403


def _event(inflow: Inflow, change: str = "del_follow_user") -> dict:
    return {
        "ToUserName": inflow.emu.corp_id,
        "FromUserName": "sys",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": change,
        "UserID": "zhangsan",
        "ExternalUserID": "wm-unknown",
    }


def test_refusals_change_nothing(inflow: Inflow) -> None:
    emu = inflow.emu
    event = _event(inflow)
    query, body = emu.envelope(event)
    before = _counts(inflow)
    # a wrong signature
    resp = httpx.post(inflow.url, params=dict(query, msg_signature="f" * 40), content=body)
    assert resp.status_code == 403 and "msg_signature" in resp.text
    # a wrong receive id: encrypted for another corp, correctly signed
    from tests.emulators.wecom_inflow import event_xml

    other = encrypt(event_xml(event), emu.encoding_aes_key, "ww-another-corp")
    ts, nonce = str(int(time.time())), "42"
    body_other = f"<xml><Encrypt><![CDATA[{other}]]></Encrypt></xml>".encode()
    resp = httpx.post(
        inflow.url,
        params={"msg_signature": sign(emu.callback_token, ts, nonce, other), "timestamp": ts, "nonce": nonce},
        content=body_other,
    )
    assert resp.status_code == 403 and "receive id" in resp.text
    # a stale timestamp (a captured request replayed 10 minutes later), correctly signed
    old_query, old_body = emu.envelope(event, timestamp=int(time.time()) - 600)
    resp = httpx.post(inflow.url, params=old_query, content=old_body)
    assert resp.status_code == 403 and "timestamp" in resp.text
    # not XML, and too large
    assert httpx.post(inflow.url, params=query, content=b"not xml").status_code == 400
    assert httpx.post(inflow.url, params=query, content=b"x" * 70_000).status_code == 413
    # an entity-expansion attempt is refused before parsing
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>'
    assert httpx.post(inflow.url, params=query, content=bomb).status_code == 400
    # unknown provider
    assert httpx.post(inflow.url.replace("/wecom/", "/nope/"), params=query, content=body).status_code == 404
    assert _counts(inflow) == before


def test_retries_and_replays_are_stored_and_processed_once(inflow: Inflow) -> None:
    emu = inflow.emu
    event = emu.customer_adds("zhangsan", "wm-dup", state="", push=False, welcome=False)
    first = emu.push(event)
    assert first.acknowledged
    # WeCom's retry: the same event, newly encrypted and signed
    again = emu.push(event)
    assert again.acknowledged
    # a replay of a captured request, byte for byte, inside the window
    query, body = emu.envelope(event)
    for _ in range(2):
        resp = httpx.post(inflow.url, params=query, content=body)
        assert resp.status_code == 200 and resp.text == "success"
    rows = _wait_processed(inflow, 1)
    assert len(rows) == 1 and rows[0].status == "done" and rows[0].attempts == 1
    with inflow.client.ctx.db.session() as s:
        added = s.scalar(select(func.count()).select_from(Event).where(Event.event == "Contact Added"))
    assert added == 1


def test_unknown_events_are_kept_as_unhandled(inflow: Inflow) -> None:
    event = _event(inflow, change="add_half_external_contact")
    assert inflow.emu.push(event).acknowledged
    rows = _wait_processed(inflow, 1)
    assert rows[0].status == "unhandled" and "no handler" in (rows[0].last_error or "")
    listed = inflow.client.wecom_callbacks.list(status="unhandled")
    assert [c["change_type"] for c in listed] == ["add_half_external_contact"]


def test_a_handler_module_not_there_leaves_the_event_unhandled(inflow: Inflow) -> None:
    import importlib.util

    if importlib.util.find_spec("siyu.community.callbacks") is not None:
        return  # the groups capability is installed: its own tests cover the event
    event = _event(inflow) | {"Event": "change_external_chat", "ChangeType": "create", "ChatId": "wrOgQhDgAA"}
    assert inflow.emu.push(event).acknowledged
    rows = _wait_processed(inflow, 1)
    assert rows[0].status == "unhandled" and "siyu.community.callbacks" in (rows[0].last_error or "")


def test_provider_callback_secrets_are_checked_when_saved(inflow: Inflow) -> None:
    base = {"corp_id": "ww1"}
    with pytest.raises(ProviderError, match="encoding_aes_key"):
        inflow.client.providers.add(
            "wecom2", "wecom", base, {"corp_secret": "x", "callback_token": "t", "encoding_aes_key": "short"}
        )
    with pytest.raises(ProviderError, match="both"):
        inflow.client.providers.add("wecom3", "wecom", base, {"corp_secret": "x", "callback_token": "t"})
    # a provider without callback secrets answers 409, naming what is missing
    inflow.client.providers.add("plain", "wecom", base, {"corp_secret": "x"})
    query, body = inflow.emu.envelope(_event(inflow))
    resp = httpx.post(inflow.url.replace("/wecom/", "/plain/"), params=query, content=body)
    assert resp.status_code == 409 and "callback_token" in resp.text
