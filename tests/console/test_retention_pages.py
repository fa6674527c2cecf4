"""Console: the retention page (view, edit, preview, run; zh durations, errors naming the row)
and the audit page's verify button."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text

from siyu.audit import service as audit


def zh(browser: Any) -> Any:
    browser.cookies.set("siyu_lang", "zh")
    return browser


def test_only_admins_and_owners_see_the_retention_page(console_as: Any) -> None:
    assert console_as("admin").get("/console/settings/retention").status_code == 200
    assert console_as("owner").get("/console/settings/retention").status_code == 200
    for role in ("operator", "analyst", "viewer"):
        assert console_as(role).get("/console/settings/retention").status_code == 403
    assert "/console/settings/retention" in console_as("admin").get("/console/settings").text
    assert "/console/settings/retention" not in console_as("operator").get("/console/settings").text


def test_the_zh_page_shows_durations_in_chinese_and_no_raw_keys(console_as: Any) -> None:
    page = zh(console_as("admin")).get("/console/settings/retention")
    assert page.status_code == 200
    summary = re.search(r'id="retention-summary".*?</div>', page.text, re.S)
    assert summary is not None
    assert "送达后180天" in summary.group(0) and "不删除" in summary.group(0)
    visible = re.sub(r"<[^>]+>", " ", page.text)
    for raw in ("outbox_body_days", "inactive_contacts_years", "audit_years", "retention_", "null", "None"):
        assert raw not in visible, raw
    assert "尚未执行过" in page.text


def test_saving_the_form_changes_the_policies(server: Any, console_as: Any) -> None:
    admin = zh(console_as("admin"))
    form = {
        "rule_count": "3",
        "event_0": "Page Viewed",
        "days_0": "90",
        "event_1": "*",
        "days_1": "730",
        "event_2": "",
        "days_2": "",
        "inactive_contacts_years": "3",
        "outbox_body_days": "",
        "audit_years": "5",
    }
    saved = admin.post_form("/console/settings/retention", form)
    assert saved.status_code == 200 and "保留策略已保存" in saved.text
    assert "90天" in saved.text and "3年" in saved.text and "5年" in saved.text
    assert server.client.retention.show()["policies"] == {
        "events": [{"event": "Page Viewed", "days": 90}, {"event": "*", "days": 730}],
        "inactive_contacts_years": 3,
        "outbox_body_days": None,
        "audit_years": 5,
    }


def test_a_bad_row_is_named_and_what_was_typed_is_kept(server: Any, console_as: Any) -> None:
    admin = zh(console_as("admin"))
    form = {
        "rule_count": "2",
        "event_0": "Page Viewed",
        "days_0": "90",
        "event_1": "Order Completed",
        "days_1": "ninety",
        "outbox_body_days": "180",
    }
    refused = admin.post_form("/console/settings/retention", form)
    assert refused.status_code == 422
    assert "第 2 条事件规则" in refused.text and "ninety" in refused.text
    assert re.search(r'name="days_1"[^>]*aria-invalid="true"', refused.text)
    assert 'value="Order Completed"' in refused.text
    for field, value, words in (
        ("days_0", "0", "第 1 条事件规则"),
        ("outbox_body_days", "-5", "已送达消息的正文保留"),
        ("audit_years", "10000", "操作日志保留"),
    ):
        bad = admin.post_form("/console/settings/retention", {**form, "days_1": "30", field: value})
        assert bad.status_code == 422 and words in bad.text, field
    duplicate = admin.post_form(
        "/console/settings/retention", {**form, "days_1": "30", "event_1": "Page Viewed"}
    )
    assert duplicate.status_code == 422 and "只能设一条" in duplicate.text
    assert server.client.retention.show()["policies"]["events"] == []  # nothing saved


def test_preview_and_run_show_counts_and_the_last_run(server: Any, console_as: Any) -> None:
    admin = zh(console_as("admin"))
    server.client.retention.set(audit_years=None, outbox_body_days=30, actor="test")
    preview = admin.post_form("/console/settings/retention/run", {"dry_run": "1"})
    assert preview.status_code == 200 and "预览完成" in preview.text
    assert 'data-dry-run="true"' in preview.text and "尚未执行过" in preview.text
    ran = admin.post_form("/console/settings/retention/run")
    assert ran.status_code == 200 and 'data-dry-run="false"' in ran.text
    assert "上次执行完成于" in ran.text and "已送达消息的正文" in ran.text
    assert server.client.retention.show()["last_run"] is not None


def test_the_audit_page_verifies_the_chain_and_names_a_broken_entry(server: Any, console_as: Any) -> None:
    admin = zh(console_as("admin"))
    page = admin.get("/console/settings/audit")
    assert 'id="audit-verify-button"' in page.text and 'id="audit-verify-result"' not in page.text
    ok = admin.get("/console/settings/audit?verify=1")
    assert 'data-ok="true"' in ok.text and "日志完整" in ok.text
    with server.client.ctx.db.session() as s:
        for i in range(3):
            audit.record(s, "test", "thing.done", details={"i": i})
    with server.client.ctx.db.session() as s:
        target = audit.entries(s, action="thing.done")[1].id
    with server.client.ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET details = NULL WHERE id = :id"), {"id": target})
    broken = admin.get("/console/settings/audit?verify=1")
    assert 'data-ok="false"' in broken.text and f'data-broken-id="{target}"' in broken.text
    assert f"第 #{target} 条记录在写入后被修改" in broken.text


def test_a_forged_rule_count_costs_nothing_and_is_no_500(server: Any, console_as: Any) -> None:
    admin = zh(console_as("admin"))
    # a bad count reads no rows (nothing typed is saved); a huge one only the rows a page has
    for count, saved in (("abc", []), ("1000000000", [{"event": "A", "days": 5}]), ("-4", [])):
        resp = admin.post_form(
            "/console/settings/retention", {"rule_count": count, "event_0": "A", "days_0": "5"}
        )
        assert resp.status_code == 200, count
        assert server.client.retention.show()["policies"]["events"] == saved, count
    many = {"rule_count": "500", **{f"event_{i}": f"e{i}" for i in range(150)}}
    many |= {f"days_{i}": "5" for i in range(150)}
    refused = admin.post_form("/console/settings/retention", many)
    assert refused.status_code == 422 and "事件规则最多 100 条" in refused.text
    assert server.client.retention.show()["policies"]["events"] == []
