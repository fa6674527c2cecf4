"""The analytics REST endpoints over real HTTP (docs/analytics.md): the list of kinds with
their parameter schemas, running an analysis (JSON payload or CSV table), 422 naming the bad
field, the spend import (bad rows reported, good rows kept) and storing churn scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from siyu.sources.schemas import ChannelCreate
from siyu.sources.service import SourcesService


def test_kinds_are_listed_with_their_parameters(server, http: httpx.Client) -> None:
    kinds = {k["kind"]: k for k in http.get("/api/v1/analytics").json()}
    for kind in ("activity", "retention", "funnel", "clv", "attribution", "experiment", "roi", "churn"):
        assert kind in kinds, kind
    assert "start_event" in kinds["retention"]["params"]["properties"]
    assert kinds["experiment"]["needs_warehouse"] is False


def test_an_analysis_answers_its_payload_or_its_table(server, http: httpx.Client) -> None:
    body = {
        "metric": "conversion",
        "variants": [
            {"name": "a", "n": 1000, "conversions": 100},
            {"name": "b", "n": 1000, "conversions": 130},
        ],
    }
    resp = http.post("/api/v1/analytics/experiment", json=body)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    # 10% vs 13%: the treatment is better, and the split is exactly as designed (SRM p = 1)
    assert doc["p_value"] < 0.05 and doc["chance_to_win"] > 0.95
    assert abs(doc["srm_p_value"] - 1.0) < 1e-12
    csv = http.post("/api/v1/analytics/experiment?format=csv", json=body)
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.strip().splitlines()) >= 2


def test_warehouse_analyses_see_what_was_just_accepted(server, http: httpx.Client) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    calls = [
        {
            "type": "track",
            "userId": f"u{i}",
            "event": "Opened",
            "timestamp": (now - timedelta(days=d)).isoformat(),
        }
        for i, d in ((1, 0), (2, 0), (2, 1), (3, 3))
    ]
    assert server.client.batch(calls).accepted == 4
    # "today" is the brand's (analyses bucket in its zone): from 16:00 UTC, Beijing is a day ahead
    today = now.astimezone(ZoneInfo(server.client.ctx.timezone())).date()
    resp = http.post("/api/v1/analytics/activity", json={"from": today.isoformat(), "to": today.isoformat()})
    assert resp.status_code == 200, resp.text
    (row,) = resp.json()["days"]
    assert (row["dau"], row["wau"]) == (2, 3)


def test_bad_parameters_are_422_with_the_field(server, http: httpx.Client) -> None:
    resp = http.post(
        "/api/v1/analytics/experiment",
        json={
            "metric": "conversion",
            "variants": [{"name": "a", "n": 10, "conversions": 20}, {"name": "b", "n": 10, "conversions": 1}],
        },
    )
    assert resp.status_code == 422
    assert resp.json()["path"].startswith("variants[0]")
    unknown = http.post("/api/v1/analytics/horoscope", json={})
    assert unknown.status_code == 422 and unknown.json()["path"] == "kind"
    extra = http.post("/api/v1/analytics/experiment", json={"colour": "red"})
    assert extra.status_code == 422


def test_spend_import_keeps_good_rows_and_names_bad_ones(server, http: httpx.Client) -> None:
    with server.client.ctx.db.session() as s:
        SourcesService(s).create_channel(ChannelCreate(key="ads", name="信息流广告", kind="ads"))
    csv = (
        "channel,campaign,period_start,period_end,amount\n"
        "ads,,2026-01-01,2026-01-31,310\n"
        "nowhere,,2026-01-01,2026-01-31,10\n"
    )
    resp = http.post("/api/v1/spend", files={"file": ("spend.csv", csv.encode(), "text/csv")})
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["rows"] == 2 and len(report["rejected"]) == 1
    assert report["rejected"][0]["line"] == 3 and report["rejected"][0]["field"] == "channel"
    rows = http.get("/api/v1/spend").json()
    assert [float(r["amount"]) for r in rows] == [310.0]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"", "missing column(s) channel"),
        (b"foo,bar\n1,2\n", "unknown column(s) foo, bar"),
        (b"channel,campaign,period_start,period_end,amount,\n", "column(s) 6 without a name"),
        (b"channel,channel,campaign,period_start,period_end,amount\n", "channel given more than once"),
        (b"\xff\xfechannel\n", "not UTF-8"),
        (b"channel,campaign,period_start,period_end,amount\nads," + b"x" * 200_000 + b",1,1,1\n", "line 2"),
    ],
    ids=["empty", "unknown", "unnamed", "repeated", "not-utf8", "huge-field"],
)
def test_spend_file_that_cannot_be_read_is_a_422_naming_the_line(
    server, http: httpx.Client, body: bytes, named: str
) -> None:
    """As the testers sent it: a bad header answered 500."""
    resp = http.post("/api/v1/spend", files={"file": ("ad-costs.csv", body, "text/csv")})
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert detail.startswith("ad-costs.csv: ") and named in detail, detail  # the upload's own name
    assert http.get("/api/v1/spend").json() == []


def test_spend_row_with_a_nul_byte_is_rejected_by_line_and_field(server, http: httpx.Client) -> None:
    """PostgreSQL refuses NUL in text: the row is named instead of the whole request failing."""
    with server.client.ctx.db.session() as s:
        SourcesService(s).create_channel(ChannelCreate(key="ads", name="信息流广告", kind="ads"))
    body = (
        b"channel,campaign,period_start,period_end,amount\n"
        b"ads,a\x00b,2026-01-01,2026-01-02,1\n"
        b"ads,,2026-01-01,2026-01-02,2\n"
    )
    resp = http.post("/api/v1/spend", files={"file": ("spend.csv", body, "text/csv")})
    assert resp.status_code == 200, resp.text
    assert [(r["line"], r["field"]) for r in resp.json()["rejected"]] == [(2, "campaign")]
    assert [r["amount"] for r in http.get("/api/v1/spend").json()] == [2.0]
