"""The event catalogue's console pages (事件目录): an operator renames an event and labels a
property, a bad summary is refused with the field named in the reader's language (what was
typed is kept), a viewer reads but cannot edit."""

from __future__ import annotations

from typing import Any


def test_an_operator_edits_an_event_and_a_bad_summary_is_refused(server: Any, console_as: Any) -> None:
    server.client.track("领券", {"customer_no": "C1"}, {"coupon": "SPRING"}, message_id="c1")
    server.client.feed_warehouse()
    server.client.events.learn()
    ops = console_as("operator")
    form = {
        "display_zh": "领取优惠券",
        "display_en": "Coupon claimed",
        "summary_zh": "[{coupon}]",
        "summary_en": "",
    }
    saved = ops.post_form(
        "/console/settings/events/领券", {**form, "p_key": "coupon", "p_zh_0": "券码", "p_kind_0": "text"}
    )
    assert saved.status_code == 200 and "saved=1" in str(saved.url)
    assert server.client.events.get("领券")["properties"]["coupon"]["zh"] == "券码"
    listed = ops.get("/console/settings/events").text
    assert "领取优惠券" in listed
    ops.cookies.set("siyu_lang", "zh")
    refused = ops.post_form(
        "/console/settings/events/领券", {**form, "display_zh": "领券了", "summary_zh": "[{coupon"}
    )
    assert refused.status_code == 422
    assert "字段 summary_zh：摘要里的 { } 或 [ ] 不成对" in refused.text and 'value="领券了"' in refused.text
    assert server.client.events.get("领券")["display_zh"] == "领取优惠券"  # nothing half-saved


def test_a_viewer_reads_the_catalogue_but_cannot_edit(server: Any, console_as: Any) -> None:
    viewer = console_as("viewer")
    assert viewer.get("/console/settings/events/Order Completed").status_code == 200
    refused = viewer.post_form("/console/settings/events/Order Completed", {"display_zh": "成交"})
    assert refused.status_code == 403
    assert server.client.events.get("Order Completed")["display_zh"] == "下单"
