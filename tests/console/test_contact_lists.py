"""The contacts list over real HTTP: a phone's last four digits find it (through the blind
index, after a backfill of rows written without it), filters by stage, tag, segment and dates
(brand time zone), sorting, and bulk tag / enrol / export on ticked or all filtered rows."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import update

from siyu.store.models import Contact, Identity

PEOPLE = [("王小明", "+8613800135678"), ("李四", "+8613912345678"), ("张三", "+8613700001234")]


@pytest.fixture
def people(server: Any) -> list[int]:
    ids = []
    for name, phone in PEOPLE:
        server.client.identify({"phone": phone}, {"name": name})
        ids.append(server.client.contact(phone)["id"])
    server.client.tags.apply("VIP", ids[:2], create=True)
    server.client.segments.create(
        {"key": "vip", "name": "VIP 客户", "definition": {"type": "tags", "tags": ["VIP"]}}
    )
    return ids


def listed(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-contact-id="(\d+)">', page)]


def test_last_four_digits_find_phones_through_the_blind_index(
    server: Any, console_as: Any, people: list[int]
) -> None:
    with server.client.ctx.db.session() as s:  # as rows from before the index existed
        s.execute(update(Identity).values(last4=None))
    op = console_as("operator")
    page = op.get("/console/contacts", params={"q": "5678"}).text
    assert sorted(listed(page)) == sorted(people[:2])
    assert "13800135678" not in page and "138****5678" in page
    assert listed(op.get("/console/contacts", params={"q": "1234"}).text) == [people[2]]
    assert listed(op.get("/console/contacts", params={"q": "0000"}).text) == []
    with server.client.ctx.db.session() as s:
        assert s.query(Identity).filter(Identity.last4.is_(None)).count() == 0


def test_filters_and_sorting(server: Any, console_as: Any, people: list[int]) -> None:
    with server.client.ctx.db.session() as s:  # created just after midnight Beijing time on 03-02
        s.execute(
            update(Contact)
            .where(Contact.id == people[0])
            .values(created_at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC))
        )
        s.execute(
            update(Contact)
            .where(Contact.id == people[1])
            .values(created_at=datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
        )
    op = console_as("operator")
    assert sorted(listed(op.get("/console/contacts", params={"tag": "VIP"}).text)) == sorted(people[:2])
    assert sorted(listed(op.get("/console/contacts", params={"segment": "vip"}).text)) == sorted(people[:2])
    day = op.get("/console/contacts", params={"created_from": "2026-03-02", "created_to": "2026-03-02"}).text
    assert listed(day) == [people[0]]
    assert listed(op.get("/console/contacts", params={"sort": "id"}).text) == sorted(people)
    assert listed(op.get("/console/contacts", params={"sort": "-id"}).text) == sorted(people, reverse=True)
    by_name = listed(op.get("/console/contacts", params={"sort": "name", "tag": "VIP"}).text)
    assert set(by_name) == set(people[:2])
    bad = op.get("/console/contacts", params={"created_from": "2026-02-30"})
    assert bad.status_code == 422 and "created_from" in bad.text


def test_bulk_tag_on_ticked_and_on_all_filtered(server: Any, console_as: Any, people: list[int]) -> None:
    op = console_as("operator")
    resp = op.post_form(
        "/console/contacts/bulk",
        {"action": "tag", "scope": "selected", "ids": [people[2]], "bulk_tag": "回访"},
    )
    assert resp.status_code == 200 and "Tagged 1 contacts" in resp.text
    resp = op.post_form(
        "/console/contacts/bulk", {"action": "tag", "scope": "all", "bulk_tag": "VIP-2", "segment": "vip"}
    )
    assert "Tagged 2 contacts" in resp.text
    assert sorted(listed(op.get("/console/contacts", params={"tag": "VIP-2"}).text)) == sorted(people[:2])
    assert (
        op.post_form(
            "/console/contacts/bulk", {"action": "tag", "scope": "selected", "bulk_tag": "x"}
        ).status_code
        == 422
    )
    viewer = console_as("viewer")
    assert (
        viewer.post_form(
            "/console/contacts/bulk", {"action": "tag", "scope": "all", "bulk_tag": "x"}
        ).status_code
        == 403
    )


def test_bulk_export_is_masked_xlsx(server: Any, console_as: Any, people: list[int]) -> None:
    op = console_as("operator")
    resp = op.post_form(
        "/console/contacts/bulk", {"action": "export", "scope": "all", "format": "xlsx", "tag": "VIP"}
    )
    assert resp.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.content)).active.values)
    assert rows[0][:3] == ("Contact ID", "Name", "Phone")  # the operator reads English
    assert {(r[1], r[2]) for r in rows[1:]} == {
        ("王小明", "138****5678"),
        ("李四", "139****5678"),
    }


def test_bulk_enrol(server: Any, console_as: Any, people: list[int]) -> None:
    server.client.journeys.create(
        {"key": "care", "name": "关怀", "trigger": {"list": True}, "steps": [{"id": "w", "wait": "1d"}]}
    )
    server.client.journeys.start("care")
    op = console_as("operator")
    resp = op.post_form(
        "/console/contacts/bulk",
        {"action": "enrol", "scope": "selected", "ids": people[:2], "journey": "care"},
    )
    assert resp.status_code == 200 and "Enrolled 2 contacts" in resp.text
