"""Console pages of distribution (分销) over HTTP: the promoter list with approval (operators,
not viewers), the settings form (admins; a rate sum over 100% named in Chinese with what was
typed kept), the commission ledger with words instead of codes, a promoter's dashboard and the
settlement sheet download (CSV with BOM)."""

from __future__ import annotations

from typing import Any

from tests.distribution.conftest import at, order_call, phone, refund_call, visit_call

from siyu.client import Siyu


def zh(browser: Any) -> Any:
    browser.cookies.set("siyu_lang", "zh")
    return browser


def setup(s: Siyu) -> str:
    s.distribution.set_settings({"enabled": True})
    s.identify({"phone": phone(1)})
    return str(s.distribution.apply(phone(1))["code"])


def test_promoters_are_approved_by_operators(server: Any, console_as: Any) -> None:
    code = setup(server.client)
    viewer = zh(console_as("viewer"))
    page = viewer.get("/console/distribution")
    assert page.status_code == 200 and "待审核" in page.text and "dist-approve" not in page.text
    assert viewer.post_form(f"/console/distribution/promoters/{code}/approve").status_code == 403
    operator = zh(console_as("operator"))
    assert "dist-approve" in operator.get("/console/distribution").text
    done = operator.post_form(f"/console/distribution/promoters/{code}/approve", follow_redirects=True)
    assert done.status_code == 200 and "已通过审核" in done.text
    assert server.client.distribution.promoters()[0]["status"] == "approved"
    assert operator.post_form("/console/distribution/promoters/NOPE/reject").status_code == 404


def test_settings_form_refuses_rates_over_100_percent(server: Any, console_as: Any) -> None:
    viewer = zh(console_as("viewer"))
    assert viewer.get("/console/distribution/settings").status_code == 200
    assert viewer.post_form("/console/distribution/settings", {}).status_code == 403
    admin = zh(console_as("admin"))
    form = {
        "enabled": "on",
        "mode": "appointed",
        "auto_threshold": "",
        "binding": "new_users",
        "lock_days": "30",
        "levels": "2",
        "level1_rate": "70",
        "level2_rate": "40",
        "freeze_days": "7",
        "min_withdrawal": "10",
        "sharing_ratio": "30",
    }
    bad = admin.post_form("/console/distribution/settings", form)
    assert bad.status_code == 422
    assert "二级佣金比例：一级与二级佣金比例之和不能超过 100%" in bad.text and 'value="40"' in bad.text
    ok = admin.post_form(
        "/console/distribution/settings", {**form, "level2_rate": "30"}, follow_redirects=True
    )
    assert ok.status_code == 200 and "分销设置已保存" in ok.text
    got = server.client.distribution.settings()
    assert (got["level1_rate"], got["level2_rate"], got["min_withdrawal"]) == ("0.7000", "0.3000", "10.00")


def test_ledger_dashboard_and_export(server: Any, console_as: Any) -> None:
    s: Siyu = server.client
    code = setup(s)
    s.distribution.approve(code)
    s.batch([visit_call(10, code, at(-1)), order_call("W1", "120.00", 10), refund_call("W1", 10, "30", "r")])
    page = zh(console_as("viewer"))
    ledger = page.get("/console/distribution/commissions")
    assert ledger.status_code == 200 and "订单佣金" in ledger.text and "退款扣回" in ledger.text
    assert "¥12.00" in ledger.text and "-¥3.00" in ledger.text and ">earn<" not in ledger.text
    dash = page.get(f"/console/distribution/promoters/{code}")
    assert dash.status_code == 200 and "直接客户 1 位" in dash.text and "¥9.00" in dash.text
    assert page.get("/console/distribution/promoters/NOPE").status_code == 404
    assert page.get("/console/distribution/export?format=csv").status_code == 403  # names: a PII export
    owner = zh(console_as("owner"))
    sheet = owner.get("/console/distribution/export?format=csv")
    assert sheet.status_code == 200 and sheet.content.startswith("\ufeff".encode())
    assert code in sheet.text and "可提现" in sheet.content.decode("utf-8-sig")
