"""Tracked short links: deterministic codes, idempotent writes, and clicks through the real
REST app (302, counter, outbox, ``link.clicked`` events, 404 for unknown codes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from siyu.api.app import create_app
from siyu.client import Siyu
from siyu.content.links import LinkMaker, ShortLinkService, flush_links, link_code, link_secret
from siyu.content.render import render
from siyu.context import AppContext
from siyu.store.models import Event, OutboxMessage, ShortLink

PUBLIC = "https://s.example.cn"
KEY = "9:{cid}:31:send-coupon"


@pytest.fixture
def web(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(Siyu(ctx)), follow_redirects=False) as client:
        yield client


def test_codes_are_deterministic_per_message_and_url() -> None:
    code = link_code("9:1:31:s", "https://a.cn")
    assert code == link_code("9:1:31:s", "https://a.cn") and len(code) == 10 and code.isalnum()
    assert link_code("9:2:31:s", "https://a.cn") != code  # another message
    assert link_code("9:1:31:s", "https://b.cn") != code  # another url
    assert link_code("9:1:31:s", "https://a.cn", b"k" * 32) != code  # another deployment key
    # The same compiled template gives each message its own code (no compile-time folding).
    texts = [
        render({"t": "{{ 'https://a.cn' | track }}"}, {}, LinkMaker(PUBLIC, k)).content["t"] for k in "ab"
    ]
    assert texts == [
        f"{PUBLIC}/l/{link_code('a', 'https://a.cn')}",
        f"{PUBLIC}/l/{link_code('b', 'https://a.cn')}",
    ]


def test_link_secret_is_derived_from_the_keyring(ctx: AppContext) -> None:
    secret = link_secret(ctx.keyring)
    assert len(secret) == 32 and secret == link_secret(ctx.keyring)


def test_flush_is_idempotent(ctx: AppContext, people: dict[str, int]) -> None:
    cid = people["c1"]

    def maker() -> LinkMaker:
        m = LinkMaker(PUBLIC, KEY.format(cid=cid), cid, journey_id=9, step="send-coupon")
        m.track("https://a.cn/1")
        m.track("https://a.cn/2")
        m.track("https://a.cn/1")
        return m

    with ctx.db.session() as s:
        assert maker().flush(s) == 2
    with ctx.db.session() as s:  # the step ran again after a crash: same codes, nothing new
        assert flush_links(s, [maker(), maker()]) == 0
        rows = s.scalars(select(ShortLink).order_by(ShortLink.url)).all()
        assert [(r.url, r.contact_id, r.outbox_key, r.journey_id, r.step, r.clicks) for r in rows] == [
            ("https://a.cn/1", cid, KEY.format(cid=cid), 9, "send-coupon", 0),
            ("https://a.cn/2", cid, KEY.format(cid=cid), 9, "send-coupon", 0),
        ]
        assert {r.code for r in rows} == set(maker().made)


def outbox(ctx: AppContext, key: str, cid: int) -> None:
    with ctx.db.session() as s:
        s.add(
            OutboxMessage(
                key=key,
                contact_id=cid,
                channel="sms",
                content={},
                local_day="2025-05-01",
                local_week="2025-W18",
            )
        )


def test_click_redirects_counts_and_records_events(
    ctx: AppContext, people: dict[str, int], web: TestClient
) -> None:
    cid = people["c2"]
    key = KEY.format(cid=cid)
    outbox(ctx, key, cid)
    maker = LinkMaker(PUBLIC, key, cid, journey_id=9, step="send-coupon")
    short = maker.track("https://shop.example.cn/p?id=1&src=sms")
    code = short.rsplit("/", 1)[1]
    with ctx.db.session() as s:
        maker.flush(s)

    first = web.get(f"/l/{code}", headers={"User-Agent": "MicroMessenger/8.0"})
    assert first.status_code == 302, first.text
    assert first.headers["location"] == "https://shop.example.cn/p?id=1&src=sms"
    assert first.headers["cache-control"] == "no-store"
    with ctx.db.session() as s:
        link = s.scalar(select(ShortLink).where(ShortLink.code == code))
        assert link is not None and link.clicks == 1 and link.first_clicked_at is not None
        first_at = link.first_clicked_at
        clicked_at = s.scalar(select(OutboxMessage.clicked_at).where(OutboxMessage.key == key))
        assert clicked_at is not None

    assert web.get(f"/l/{code}").status_code == 302
    with ctx.db.session() as s:
        link = s.scalar(select(ShortLink).where(ShortLink.code == code))
        assert link is not None and link.clicks == 2 and link.first_clicked_at == first_at
        assert s.scalar(select(OutboxMessage.clicked_at).where(OutboxMessage.key == key)) == clicked_at
        events = s.scalars(
            select(Event).where(Event.event == "link.clicked").order_by(Event.message_id)
        ).all()
        assert [(e.message_id, e.contact_id, e.type) for e in events] == [
            (f"link.clicked:{code}:1", cid, "track"),
            (f"link.clicked:{code}:2", cid, "track"),
        ]
        assert events[0].properties == {
            "code": code,
            "url": "https://shop.example.cn/p?id=1&src=sms",
            "journey_id": 9,
            "step": "send-coupon",
            "message_key": key,
            "user_agent": "MicroMessenger/8.0",
        }
        assert (events[1].properties or {})["user_agent"] == "testclient"


def test_links_without_a_contact_count_but_make_no_event(ctx: AppContext, web: TestClient) -> None:
    maker = LinkMaker(PUBLIC, "moment:2025-05-01:tea")
    code = maker.track("https://a.cn/moment").rsplit("/", 1)[1]
    with ctx.db.session() as s:
        maker.flush(s)
    for _ in range(3):
        assert web.get(f"/l/{code}").headers["location"] == "https://a.cn/moment"
    with ctx.db.session() as s:
        assert s.scalar(select(ShortLink.clicks).where(ShortLink.code == code)) == 3
        assert s.scalar(select(func.count()).select_from(Event)) == 0


@pytest.mark.parametrize("code", ["AAAAAAAAAA", "no-such-code", "x" * 40, "evil.example"])
def test_unknown_codes_are_404_and_never_redirect(ctx: AppContext, web: TestClient, code: str) -> None:
    resp = web.get(f"/l/{code}?url=https://evil.example")
    assert resp.status_code == 404 and "location" not in resp.headers
    assert "链接不存在" in resp.text and "does not exist" in resp.text
    with ctx.db.session() as s:
        assert ShortLinkService(s).click(code) is None
    slashed = web.get("/l/%2F%2Fevil.example")
    assert slashed.status_code == 404 and "location" not in slashed.headers
