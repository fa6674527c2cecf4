"""REST /api/v1/event-catalogue: list, one entry, edit (validation errors with their field, in
Chinese for ``Accept-Language: zh``), learn; who may read and who may edit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest


def _as(server: Any, api_key: Callable[[str], str], role: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": f"Bearer {api_key(role)}"})


def test_learn_list_get_and_edit(server: Any, http: httpx.Client) -> None:
    server.client.track("Order Completed", {"customer_no": "C1"}, {"amount": 35.04}, message_id="o1")
    server.client.track("领券", {"customer_no": "C2"}, {"coupon": "SPRING"}, message_id="c1")
    server.client.feed_warehouse()
    assert http.get("/api/v1/event-catalogue").json() == []
    learned = http.post("/api/v1/event-catalogue/learn")
    assert learned.status_code == 200 and learned.json() == {"events": 2, "added": 2, "new_properties": 2}
    names = {row["name"]: row["volume"] for row in http.get("/api/v1/event-catalogue").json()}
    assert names == {"Order Completed": 1, "领券": 1}
    one = http.get("/api/v1/event-catalogue/Order Completed").json()
    assert (one["display_zh"], one["properties"]["amount"]["kind"]) == ("下单", "money")
    edited = http.put(
        "/api/v1/event-catalogue/领券",
        json={"display_zh": "领取优惠券", "properties": {"coupon": {"zh": "券码"}}},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["display_zh"] == "领取优惠券" and edited.json()["updated_by"].startswith("key:")
    assert http.get("/api/v1/event-catalogue/领券").json()["properties"]["coupon"]["zh"] == "券码"
    # a name with a slash is one name (the route takes the rest of the path)
    assert http.put("/api/v1/event-catalogue/a/b", json={"display_zh": "甲乙"}).json()["name"] == "a/b"
    missing = http.get("/api/v1/event-catalogue/Bought")
    assert missing.status_code == 404 and "Bought" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("body", "path", "en", "zh"),
    [
        ({"summary_zh": "[{amount}"}, "summary_zh", "unbalanced", "摘要里的 { } 或 [ ] 不成对"),
        ({"display_zh": "长" * 101}, "display_zh", "at most 100 characters", "最多 100 个字符"),
        ({"properties": {"amount": {"kind": "euro"}}}, "properties.amount.kind", "money", "应为以下之一"),
        ({"colour": "red"}, "colour", "Extra inputs", "是不认识的字段"),
    ],
)
def test_bad_edits_name_the_field_in_the_callers_language(
    http: httpx.Client, body: dict[str, Any], path: str, en: str, zh: str
) -> None:
    english = http.put("/api/v1/event-catalogue/Order Completed", json=body)
    assert english.status_code == 422 and english.json()["path"] == f"body.{path}"
    assert en in english.json()["detail"] and path in english.json()["detail"]
    chinese = http.put(
        "/api/v1/event-catalogue/Order Completed", json=body, headers={"Accept-Language": "zh-CN"}
    )
    assert chinese.status_code == 422 and chinese.json()["detail"].startswith(f"字段 {path}：")
    assert zh in chinese.json()["detail"]
    assert http.get("/api/v1/event-catalogue").json() == []  # nothing written


def test_readers_read_and_segment_writers_edit(server: Any, api_key: Callable[[str], str]) -> None:
    with _as(server, api_key, "viewer") as viewer, _as(server, api_key, "operator") as operator:
        assert viewer.get("/api/v1/event-catalogue").status_code == 200
        assert viewer.get("/api/v1/event-catalogue/Order Completed").status_code == 200
        refused = viewer.put("/api/v1/event-catalogue/Order Completed", json={"display_zh": "成交"})
        assert refused.status_code == 403 and "segments.write" in refused.json()["detail"]
        assert viewer.post("/api/v1/event-catalogue/learn").status_code == 403
        assert (
            operator.put("/api/v1/event-catalogue/Order Completed", json={"display_zh": "成交"}).status_code
            == 200
        )
        assert operator.post("/api/v1/event-catalogue/learn").status_code == 200
    anonymous = httpx.get(f"{server.url}/api/v1/event-catalogue", timeout=60)
    assert anonymous.status_code == 401
