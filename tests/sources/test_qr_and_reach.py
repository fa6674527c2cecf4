"""Entry-code QR codes (URL with the state, SVG without Pillow) and per-channel / per-code reach."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.sources import qr
from siyu.sources.reach import Reach, channel_reach, entry_code_reach


@pytest.mark.parametrize(
    ("landing", "expected"),
    [
        ("https://brand.example/join", "https://brand.example/join?state=poster-a"),
        ("https://brand.example", "https://brand.example/?state=poster-a"),
        (
            "https://brand.example/j?utm_source=x&state=old#top",
            "https://brand.example/j?utm_source=x&state=poster-a#top",
        ),
        ("http://h5.example:8080/p/q", "http://h5.example:8080/p/q?state=poster-a"),
    ],
)
def test_entry_url_sets_the_state_and_keeps_the_rest(landing: str, expected: str) -> None:
    assert qr.entry_url(landing, "poster-a") == expected


@pytest.mark.parametrize("landing", ["javascript:alert(1)", "brand.example/join", "ftp://x.example/", ""])
def test_entry_url_refuses_what_is_not_an_http_page(landing: str) -> None:
    with pytest.raises(qr.QrError, match="landing_url"):
        qr.entry_url(landing, "s")


def test_qr_svg_is_a_parseable_svg_that_depends_on_the_data() -> None:
    a = qr.qr_svg("https://brand.example/join?state=a")
    b = qr.qr_svg("https://brand.example/join?state=b")
    root = ET.fromstring(a)
    assert root.tag.endswith("svg") and root.get("viewBox")
    assert any(el.tag.endswith("path") and el.get("d") for el in root.iter())
    assert a != b and qr.qr_svg("https://brand.example/join?state=a") == a  # deterministic


def test_qr_encodes_the_data() -> None:
    """Without a decoder, check the module matrix the SVG is drawn from holds the data: a longer
    URL needs a larger QR version."""
    small = ET.fromstring(qr.qr_svg("https://b.example/?state=a")).get("viewBox")
    large = ET.fromstring(
        qr.qr_svg("https://brand.example/a/very/long/landing/page/path?state=" + "x" * 30)
    ).get("viewBox")
    assert small and large
    assert float(large.split()[2]) > float(small.split()[2])


def _identify(client: Siyu, phone: str, state: str | None = None, **extra: Any) -> None:
    call: dict[str, Any] = {"type": "identify", "identifiers": {"phone": phone}, "traits": {}, **extra}
    if state:
        call["context"] = {"state": state}
    result = client.batch([call])
    assert not result.rejected, result


def test_reach_counts_acquired_and_touched_contacts(ctx: AppContext) -> None:
    client = Siyu(ctx)
    wecom = client.create_channel("wecom-main", "wecom")
    store = client.create_channel("store", "store")
    a = client.create_entry_code("wecom-main", "poster-a")
    b = client.create_entry_code("store", "counter-b")
    unused = client.create_entry_code("store", "unused")
    _identify(client, "13800138001", "poster-a")
    _identify(client, "13800138002", "poster-a")
    _identify(client, "13800138003", "counter-b")
    _identify(client, "13800138001", "counter-b")  # an existing contact reached again in store
    _identify(client, "13800138001", "counter-b")  # twice: still one contact
    with ctx.db.session() as s:
        channels, codes = channel_reach(s), entry_code_reach(s)
    assert channels[wecom["id"]] == Reach(first=2, touched=2)
    assert channels[store["id"]] == Reach(first=1, touched=2)
    assert codes[a["id"]] == Reach(first=2, touched=2)
    assert codes[b["id"]] == Reach(first=1, touched=2)
    assert codes.get(unused["id"], Reach()) == Reach()


def test_entry_code_lookup(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.create_channel("wecom-main", "wecom")
    made = client.create_entry_code("wecom-main", "poster-a")
    with ctx.db.session() as s:
        code = qr.entry_code(s, made["id"])
        assert code is not None and code.state == "poster-a"
        assert qr.entry_code(s, made["id"] + 1000) is None
