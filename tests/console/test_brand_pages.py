"""Console: the brand time zone page (设置 → 品牌时区): read by everyone who sees settings, saved
by who manages channels, a bad zone named in Chinese with what was typed kept, and every page
then shows times in the new zone."""

from __future__ import annotations

from typing import Any

from siyu.audit import service as audit


def zh(browser: Any) -> Any:
    browser.cookies.set("siyu_lang", "zh")
    return browser


def test_the_page_shows_the_zone_and_only_managers_get_the_form(console_as: Any) -> None:
    viewer = zh(console_as("viewer")).get("/console/settings/brand")
    assert viewer.status_code == 200
    assert 'data-zone="Asia/Shanghai"' in viewer.text and "北京时间" in viewer.text
    assert 'id="brand-form"' not in viewer.text
    assert "/console/settings/brand" in console_as("viewer").get("/console/settings").text
    admin = console_as("admin").get("/console/settings/brand")
    assert 'id="brand-form"' in admin.text
    assert console_as("viewer").post_form("/console/settings/brand", {"timezone": "UTC"}).status_code == 403


def test_saving_changes_every_page_and_is_audited(server: Any, console_as: Any) -> None:
    admin = zh(console_as("admin"))
    bad = admin.post_form("/console/settings/brand", {"timezone": "Asia/Beijing"})
    assert bad.status_code == 422
    assert "时区“Asia/Beijing”无法识别" in bad.text and 'value="Asia/Beijing"' in bad.text
    assert server.client.timezone()["source"] == "default"
    saved = admin.post_form("/console/settings/brand", {"timezone": "Asia/Tokyo"})
    assert saved.status_code == 200 and "已保存品牌时区：Asia/Tokyo" in saved.text
    assert server.client.timezone() == {
        "timezone": "Asia/Tokyo",
        "source": "stored",
        "stored": "Asia/Tokyo",
        "pinned": None,
    }
    # the zone is shown on every page (top bar) and the dashboard counts its days
    dashboard = admin.get("/console/")
    assert 'id="brand-zone"' in dashboard.text and "UTC+09:00" in dashboard.text
    with server.client.ctx.db.session() as s:
        entries = [e for e in audit.entries(s) if e.action == "brand.timezone"]
    assert [e.details for e in entries] == [{"from": None, "to": "Asia/Tokyo"}]
