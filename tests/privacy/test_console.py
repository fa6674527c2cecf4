"""The console page (zh and en): an admin looks a person up, sees what is held (masked), downloads
the copy, corrects a phone, erases the person and sees the receipt; operators cannot erase. No
raw keys or codes on the zh page; times in Beijing time."""

from __future__ import annotations

import json
import re

import pytest
from tests.privacy.conftest import PHONE, PHONE_E164, build_person

NEW_PHONE = "13712345678"


@pytest.fixture
def admin(server, console_as):  # type: ignore[no-untyped-def]
    person = build_person(server.client.ctx)
    return person, console_as("admin")


def test_admin_looks_up_corrects_and_erases(admin) -> None:  # type: ignore[no-untyped-def]
    person, browser = admin
    browser.get("/console/lang/zh")
    page = browser.post_form("/console/privacy/find", {"q": PHONE})
    assert page.status_code == 200, page.text
    assert f"客户 #{person.survivor}" in page.text and "138****8000" in page.text
    assert PHONE_E164 not in page.text  # looked up, not revealed
    assert "行为事件" in page.text and "发送的消息" in page.text  # kinds in the user's words

    copy = browser.post_form("/console/privacy/export", {"q": f"id:{person.survivor}"})
    assert copy.status_code == 200 and "attachment" in copy.headers["content-disposition"]
    assert PHONE_E164 in {i["value"] for i in json.loads(copy.content)["identifiers"]}

    fixed = browser.post_form(
        "/console/privacy/correct",
        {"q": f"id:{person.survivor}", "id_type": "phone", "id_old": PHONE, "id_new": NEW_PHONE},
    )
    assert fixed.status_code == 200 and f"已更正客户 #{person.survivor}" in fixed.text
    bad = browser.post_form(
        "/console/privacy/correct",
        {"q": f"id:{person.survivor}", "id_type": "phone", "id_old": PHONE, "id_new": "1"},
    )
    assert bad.status_code == 422 and "未能完成" in bad.text

    gone = browser.post_form("/console/privacy/delete", {"q": NEW_PHONE})
    assert gone.status_code == 200, gone.text
    deletion_id = re.search(r'id="receipt-id">(del_[0-9a-f]+)<', gone.text).group(1)
    assert "删除回执" in gone.text and "北京时间" in gone.text
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", gone.text)
    assert deletion_id in browser.get("/console/privacy").text  # in the past receipts
    assert "已删除" in gone.text and "手机号" in gone.text  # the list's reason and type, in words
    assert "wechat_unionid" not in gone.text.split('id="dnc"')[1]
    again = browser.post_form("/console/privacy/find", {"q": NEW_PHONE})
    assert again.status_code == 404


def test_english_page_and_dnc_removal(admin) -> None:  # type: ignore[no-untyped-def]
    _person, browser = admin
    browser.get("/console/lang/en")
    browser.post_form("/console/privacy/delete", {"q": PHONE})
    page = browser.get("/console/privacy")
    assert "Do-not-contact list" in page.text and "erased" in page.text
    entry = re.search(r'data-entry-id="(\d+)"', page.text).group(1)
    done = browser.post_form(f"/console/privacy/dnc/{entry}/remove")
    assert done.status_code == 200 and "Removed from the list." in done.text
    assert browser.post_form(f"/console/privacy/dnc/{entry}/remove").status_code == 404


def test_operators_may_not_erase(server, console_as) -> None:  # type: ignore[no-untyped-def]
    build_person(server.client.ctx)
    operator = console_as("operator")
    assert operator.get("/console/privacy").status_code == 403
    assert operator.post_form("/console/privacy/delete", {"q": PHONE}).status_code == 403
    assert operator.post_form("/console/privacy/export", {"q": PHONE}).status_code == 403
