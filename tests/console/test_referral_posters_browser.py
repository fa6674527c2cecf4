"""Referral posters in a real browser (Chinese), as a viewer: the campaign's preview and a
participant's poster load as images of the template's size, and an unknown code is the
console's error page in Chinese. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.console.test_browser import PASSWORD, page, shot, sign_in  # noqa: F401 (fixture)
from tests.referrals.poster_helpers import add_campaign, add_participant

TEMPLATE = {"width": 600, "height": 900, "qr": {"x": 150, "y": 400, "size": 300}}


def test_viewer_sees_the_preview_and_a_participants_poster(
    server: Any,
    page: Page,  # noqa: F811 (the fixture imported above)
    request: pytest.FixtureRequest,
) -> None:
    base = server.url
    with server.client.ctx.db.session() as s:
        add_participant(s, add_campaign(s, poster=TEMPLATE), "HUA1", nickname="张小花")
        s.commit()
    server.client.users.create("kan", PASSWORD, "viewer", name="只读小看", language="zh", actor="test")
    sign_in(page, base, "kan")

    for path in (
        "/console/referrals/spring/poster-preview.png",
        "/console/referrals/spring/participants/HUA1/poster.png",
    ):
        page.set_content(f'<img id="poster" src="{base}{path}">')
        poster = page.locator("#poster")
        expect(poster).to_have_js_property("complete", True)
        assert poster.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [600, 900]
    shot(page, "1-poster", request)

    page.goto(f"{base}/console/referrals/spring/participants/NOPE/poster.png")
    expect(page.locator("body")).to_contain_text("没有这个邀请码")
    shot(page, "2-unknown-code", request)
