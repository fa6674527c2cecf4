"""The WeCom callbacks page (zh and en) and the WeCom staff on a contact's profile."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update
from tests.conftest import ConsoleSession, RunningServer
from tests.wecom.conftest import Inflow
from tests.wecom.test_inflow_end_to_end import wait_done

from siyu.store.models import WeComCallback


def test_wecom_page_and_profile(inflow: Inflow, console_as: Callable[[str], ConsoleSession]) -> None:
    emu = inflow.emu
    emu.customer_adds("zhangsan", "wmPAGE", state="unknown-code", welcome=False)
    wait_done(inflow, 1)
    with inflow.client.ctx.db.session() as s:  # one event as if it had given up
        s.execute(update(WeComCallback).values(status="failed", attempts=5, last_error="boom"))
        (callback_id,) = s.scalars(select(WeComCallback.id)).all()

    admin = console_as("admin")
    page = admin.get("/console/settings/wecom")
    assert page.status_code == 200
    assert "/api/v1/providers/wecom/callbacks/events" in page.text
    assert "Customer added" in page.text and 'data-status="failed"' in page.text and "boom" in page.text
    admin.get("/console/lang/zh")
    zh = admin.get("/console/settings/wecom")
    assert "企业微信回调" in zh.text and "客户添加员工" in zh.text and "失败" in zh.text
    resp = admin.post_form(f"/console/settings/wecom/callbacks/{callback_id}/retry")
    assert resp.status_code == 200 and 'data-status="done"' in resp.text

    contact = inflow.client.contact("wecom_external_userid:wmPAGE")
    profile = admin.get(f"/console/contacts/{contact['id']}")
    assert 'id="contact-wecom"' in profile.text and 'data-staff="zhangsan"' in profile.text
    assert "扫描二维码" in profile.text and "unknown-code" in profile.text  # the state kept though unknown

    viewer = console_as("viewer")
    assert viewer.get("/console/settings/wecom").status_code == 403


def test_settings_index_lists_wecom(
    server: RunningServer, console_as: Callable[[str], ConsoleSession]
) -> None:
    assert 'data-section="wecom"' in console_as("admin").get("/console/settings").text
