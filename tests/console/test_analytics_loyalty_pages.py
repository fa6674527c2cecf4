"""The loyalty analyses' console pages (会员复购率, 积分负债, 会员等级, 优惠券效果): each runs through the
same path as the API and shows its rows, in Chinese words (no tier keys, no codes such as
``same`` or ``no_holdout``), money in ¥, its headline figures, a chart in the reader's language
and a CSV with Chinese headers that is the API's table."""

from __future__ import annotations

import csv as csv_module
import html
import re
from typing import Any
from urllib.parse import urlencode

from tests.analytics.loyalty.test_coupons import campaign  # noqa: F401  (fixture)
from tests.analytics.loyalty.test_liability import ledger  # noqa: F401  (fixture)
from tests.analytics.loyalty.test_tiers import history  # noqa: F401  (fixture)
from tests.conftest import PASSWORD, sign_in
from tests.console.test_analytics_pages import csv_link, page_table, raw

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def zh_viewer(server: Any, name: str = "zh-viewer") -> Any:
    server.client.users.create(name, PASSWORD, "viewer", language="zh", actor="test")
    return sign_in(server.url, name)


def visible(page: str) -> str:
    """The text a reader sees in the result's table (tags and attribute values dropped)."""
    m = re.search(r'<table id="analysis-table"[^>]*>(.*?)</table>', page, re.S)
    assert m, "no #analysis-table"
    return html.unescape(re.sub(r"<[^>]+>", " ", m.group(1)))


def run_page(browser: Any, kind: str, form: dict[str, str]) -> str:
    page = browser.get(f"/console/analytics/{kind}?{urlencode({'run': '1', **form})}")
    assert page.status_code == 200, page.text[:500]
    return str(page.text)


def test_points_liability_page_in_chinese(server: Any, ledger: None) -> None:  # noqa: F811
    browser = zh_viewer(server)
    text = run_page(browser, "points_liability", MARCH)
    result = server.client.analytics.run("points_liability", MARCH)
    columns, rows = page_table(text)
    assert columns == result.frame().column_names
    assert rows == [[raw(r[c]) for c in columns] for r in result.frame().to_pylist()]
    seen = visible(text)
    assert "月份" in seen and "负债（元）" in seen and "永久有效" in seen and "¥40.00" in seen
    assert "None" not in seen and "month" not in seen
    summary = re.search(r'<dl class="analysis-summary" id="analysis-summary">(.*?)</dl>', text, re.S)
    assert summary, "no headline figures"
    figures = html.unescape(summary.group(1))
    assert "积分沉淀率" in figures and "14.3%" in figures  # 100 expired ÷ 700
    assert "¥63.50" in figures and "100 分（¥5.00）" in figures
    assert "可用积分" in html.unescape(text.split('id="analysis-chart"')[1][:3000])  # the chart's words
    csv = browser.get(csv_link(text))
    body = csv.content.decode("utf-8-sig")
    header = next(csv_module.reader([body.splitlines()[0]]))
    assert header == ["月份", "可用积分", "待生效积分", "积分", "负债（元）"]
    assert body.splitlines()[1:] == result.to_csv().splitlines()[1:]


def test_tiers_page_shows_names_and_movements_in_words(server: Any, history: None) -> None:  # noqa: F811
    browser = zh_viewer(server)
    text = run_page(browser, "tiers", {**MARCH, "table": "migration"})
    columns, _ = page_table(text)
    assert "from_tier" not in columns and "from_name_en" not in columns and "from_name" in columns
    seen = visible(text)
    assert "银卡" in seen and "不变" in seen and "升级" in seen and "新入会" in seen
    for code in ("silver", "same", "joined", "Silver"):
        assert code not in seen, code
    assert "升级 / 降级 / 新入会 / 退出" in html.unescape(text) and "1 / 0 / 1 / 1" in text
    english = server.client.users.create("en-viewer", PASSWORD, "viewer", language="en", actor="test")
    assert english
    en_text = run_page(sign_in(server.url, "en-viewer"), "tiers", MARCH)
    en_columns, _ = page_table(en_text)
    assert "tier_name_en" in en_columns and "tier_name" not in en_columns and "tier" not in en_columns
    assert "Silver" in visible(en_text) and "银卡" not in visible(en_text)


def test_coupons_page_says_when_there_is_no_holdout(server: Any, campaign: None) -> None:  # noqa: F811
    text = run_page(zh_viewer(server), "coupons", MARCH)
    seen = visible(text)
    assert "无留出组，无法计算增量" in seen and "no_holdout" not in seen
    assert "新客50元券" in seen and "¥380.00" in seen and "280.0%" in seen
    assert "new50" not in seen  # the key is hidden; the template's name is shown
    picker = re.search(r'<select name="template">(.*?)</select>', text, re.S)
    assert picker, "the template is picked by name"
    assert re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', picker.group(1)) == [
        ("", "全部券模板"),
        ("new50", "新客50元券"),
        ("vip20", "会员20元券"),
        ("old", "旧券"),
    ]


def test_the_index_lists_the_four_analyses_and_a_bad_template_is_named(
    server: Any,
    campaign: None,  # noqa: F811
) -> None:
    browser = zh_viewer(server)
    index = browser.get("/console/analytics").text
    for kind, name in (
        ("member_repurchase", "会员复购率"),
        ("points_liability", "积分负债"),
        ("tiers", "会员等级"),
        ("coupons", "优惠券效果"),
    ):
        assert f'href="/console/analytics/{kind}"' in index and name in index
    page = browser.get(f"/console/analytics/coupons?{urlencode({'run': '1', 'template': 'nope'})}")
    assert page.status_code == 422
    assert 'id="field-error"' in page.text and "nope" in html.unescape(page.text)
    repurchase = run_page(browser, "member_repurchase", MARCH)
    assert "会员" in visible(repurchase) and "members" not in visible(repurchase)
