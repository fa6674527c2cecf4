"""Contacts pages over real HTTP: search by every kind of query, the 360° profile masked by
role, the audited reveal, and tag/untag from the profile (with the role checks)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from tests.conftest import ConsoleSession, RunningServer

from siyu.store.models import AuditEntry, ContactTag, Tag, TagChange

PHONE, PHONE_E164, PHONE_MASKED = "13800138000", "+8613800138000", "138****8000"
EMAIL, EMAIL_MASKED = "zhang.san@example.com", "z***@example.com"


@dataclass
class People:
    zhang: int
    li: int
    wang: int


@pytest.fixture
def people(server: RunningServer) -> People:
    s = server.client
    s.identify(
        {"phone": PHONE, "email": EMAIL, "customer_no": "C001"}, traits={"name": "张三", "city": "上海"}
    )
    s.identify({"phone": "13900139000", "wechat_unionid": "o6_unionLI"}, traits={"name": "Li Lei"})
    s.identify({"customer_no": "C100_x"}, traits={"nickname": "小王%"})
    s.track("Order Completed", {"customer_no": "C001"}, {"amount": 99, "sku": "A-1"})
    s.tags.apply("VIP", ["customer_no:C001"], create=True)
    return People(
        zhang=s.contact("customer_no:C001")["id"],
        li=s.contact("13900139000")["id"],
        wang=s.contact("customer_no:C100_x")["id"],
    )


def found_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-contact-id="(\d+)"', html)]


def tags_listed(html: str) -> list[str]:
    block = re.search(r'<ul id="contact-tags"[^>]*>(.*?)</ul>', html, re.S)
    assert block, html[:2000]
    return re.findall(r'data-tag="([^"]+)"', block.group(1))


@pytest.mark.parametrize(
    ("query", "who"),
    [
        (PHONE, "zhang"),
        ("+86 138-0013-8000", "zhang"),
        (EMAIL.upper(), "zhang"),
        ("张", "zhang"),
        ("li lei", "li"),
        ("customer_no:C001", "zhang"),
        ("C001", "zhang"),
        ("unionid:o6_unionLI", "li"),
        ("tag:VIP", "zhang"),
        ("VIP", "zhang"),
        ("%", "wang"),  # LIKE wildcards are matched literally
        ("C100_x", "wang"),
    ],
)
def test_search_finds_the_right_contact(
    people: People, console_as: Callable[[str], ConsoleSession], query: str, who: str
) -> None:
    viewer = console_as("viewer")
    resp = viewer.get("/console/contacts", params={"q": query})
    assert resp.status_code == 200, resp.text[:500]
    assert found_ids(resp.text) == [getattr(people, who)]


def test_search_results_and_recent_list(people: People, console_as: Callable[[str], ConsoleSession]) -> None:
    viewer = console_as("viewer")
    page = viewer.get("/console/contacts", params={"q": PHONE}).text
    row = re.search(r'<tr data-contact-id="\d+">(.*?)</tr>', page, re.S)
    assert row
    assert PHONE_MASKED in row.group(1) and EMAIL_MASKED in row.group(1)
    assert PHONE_E164 not in page and EMAIL not in page
    assert "张三" in row.group(1) and "VIP" in row.group(1)
    assert f'href="/console/contacts/{people.zhang}"' in row.group(1)

    # no query: every live contact, newest first
    recent = viewer.get("/console/contacts").text
    assert found_ids(recent) == [people.wang, people.li, people.zhang]
    assert 'id="contact-search"' in recent and 'name="q"' in recent

    missing = viewer.get("/console/contacts", params={"q": "13700137000"}).text
    assert found_ids(missing) == [] and 'id="contacts-empty"' in missing

    # ?go=1 with an exact identifier opens the profile directly
    go = viewer.get("/console/contacts", params={"q": "customer_no:C001", "go": 1}, follow_redirects=False)
    assert go.status_code == 303 and go.headers["location"] == f"/console/contacts/{people.zhang}"


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_profile_is_masked_without_reveal(
    people: People, console_as: Callable[[str], ConsoleSession], server: RunningServer, role: str
) -> None:
    browser = console_as(role)
    resp = browser.get(f"/console/contacts/{people.zhang}")
    assert resp.status_code == 200, resp.text[:500]
    html = resp.text
    assert PHONE_MASKED in html and EMAIL_MASKED in html
    assert PHONE not in html and PHONE_E164 not in html and EMAIL not in html
    assert 'id="reveal-form"' not in html and 'id="tag-form"' not in html
    assert tags_listed(html) == ["VIP"]
    assert "张三" in html and "上海" in html  # traits
    # the timeline names the event by its catalogue name (the stored name stays in data-event)
    assert 'data-event="Order Completed"' in html and "<b>Ordered</b>" in html
    assert 'class="card coming"' in html

    denied = browser.post_form(f"/console/contacts/{people.zhang}/reveal")
    assert denied.status_code == 403
    assert PHONE_E164 not in denied.text
    with server.client.ctx.db.session() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "pii.revealed")).all() == []


def test_operator_reveals_with_an_audit_entry(
    people: People, console_as: Callable[[str], ConsoleSession], server: RunningServer
) -> None:
    operator = console_as("operator")
    masked = operator.get(f"/console/contacts/{people.zhang}").text
    assert 'id="reveal-form"' in masked and PHONE_E164 not in masked

    resp = operator.post_form(f"/console/contacts/{people.zhang}/reveal")
    assert resp.status_code == 200, resp.text[:500]
    assert PHONE_E164 in resp.text and EMAIL in resp.text
    assert 'id="revealed-note"' in resp.text
    with server.client.ctx.db.session() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "pii.revealed")).all()
        assert [(e.actor, e.target_id) for e in entries] == [("user:operator-0", str(people.zhang))]

    # without the form's CSRF token the reveal is refused
    assert operator.post(f"/console/contacts/{people.zhang}/reveal").status_code == 403


def test_tag_and_untag_from_the_profile(
    people: People, console_as: Callable[[str], ConsoleSession], server: RunningServer
) -> None:
    operator = console_as("operator")
    url = f"/console/contacts/{people.li}"
    assert 'id="tag-form"' in operator.get(url).text

    resp = operator.post_form(f"{url}/tags", {"tag": "兴趣/护肤"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith(url + "?")
    page = operator.get(resp.headers["location"]).text
    assert tags_listed(page) == ["兴趣/护肤"]
    assert "兴趣/护肤" in re.search(r'class="flash ok"[^>]*>(.*?)</p>', page, re.S).group(1)  # type: ignore[union-attr]

    again = operator.post_form(f"{url}/tags", {"tag": "兴趣/护肤"})  # followed: already held
    assert again.status_code == 200 and tags_listed(again.text) == ["兴趣/护肤"]
    assert "already" in again.text

    with server.client.ctx.db.session() as s:
        change = s.scalars(select(TagChange).order_by(TagChange.id.desc())).first()
        assert change is not None and change.source == "manual" and change.detail == "console"

    removed = operator.post_form(f"{url}/tags/remove", {"tag": "兴趣/护肤"})
    assert removed.status_code == 200 and tags_listed(removed.text) == []
    with server.client.ctx.db.session() as s:
        held = s.scalars(
            select(Tag.key)
            .join(ContactTag, ContactTag.tag_id == Tag.id)
            .where(ContactTag.contact_id == people.li)
        ).all()
        assert held == []


def test_bad_tag_key_rerenders_with_the_error(
    people: People, console_as: Callable[[str], ConsoleSession]
) -> None:
    operator = console_as("operator")
    resp = operator.post_form(f"/console/contacts/{people.li}/tags", {"tag": "a/b/c"})
    assert resp.status_code == 422
    assert 'class="flash err"' in resp.text and "a/b/c" in resp.text
    assert re.search(r'<input name="tag" value="a/b/c"', resp.text)  # what was typed is kept
    missing = operator.post_form(f"/console/contacts/{people.li}/tags/remove", {"tag": "no-such-tag"})
    assert missing.status_code == 422 and "no-such-tag" in missing.text


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_readers_cannot_tag(people: People, console_as: Callable[[str], ConsoleSession], role: str) -> None:
    browser = console_as(role)
    assert browser.post_form(f"/console/contacts/{people.zhang}/tags", {"tag": "X"}).status_code == 403
    assert (
        browser.post_form(f"/console/contacts/{people.zhang}/tags/remove", {"tag": "VIP"}).status_code == 403
    )
    assert tags_listed(browser.get(f"/console/contacts/{people.zhang}").text) == ["VIP"]


def test_unknown_and_merged_contacts(
    people: People, console_as: Callable[[str], ConsoleSession], server: RunningServer
) -> None:
    viewer = console_as("viewer")
    assert viewer.get("/console/contacts/999999").status_code == 404
    # Li's phone arrives with Wang's customer_no: Wang (who has a customer_no) absorbs Li, and
    # Li's old id leads to Wang's profile.
    server.client.identify({"customer_no": "C100_x", "phone": "13900139000"})
    assert server.client.contact("13900139000")["id"] == people.wang
    resp = viewer.get(f"/console/contacts/{people.li}", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"].startswith(f"/console/contacts/{people.wang}?")
    page = viewer.get(resp.headers["location"]).text
    merges = re.search(r'id="contact-merges">(.*?)</section>', page, re.S)
    assert merges and f"#{people.li}" in merges.group(1)


def test_pages_speak_chinese(people: People, console_as: Callable[[str], ConsoleSession]) -> None:
    operator = console_as("operator")
    operator.cookies.set("siyu_lang", "zh")
    listing = operator.get("/console/contacts", params={"q": "张三"}).text
    assert "找到 1 位客户" in listing and "首触渠道" in listing
    profile = operator.get(f"/console/contacts/{people.zhang}").text
    for words in ("身份标识", "查看明文", "打标签", "行为与消息时间线", "即将推出"):
        assert words in profile, words
    imports = operator.get("/console/imports").text
    assert "上传文件" in imports and "开始导入" in imports
