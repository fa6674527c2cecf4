"""The analytics pages (分析): every page runs its analysis through the same path as the API and
shows the same rows as ``s.analytics.run(kind, params)``; the CSV export is that table; bad
parameters are shown next to their field with the input kept; experiments list journey splits.

The brand is hand-made: four contacts browse, add to cart and order over the first days of
January 2026 (counted by hand in the funnel test)."""

from __future__ import annotations

import csv as csv_module
import html
import re
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from siyu.store.models import Journey, JourneyStepRun

T0 = datetime(2026, 1, 5, 10, 0)  # a Monday
RANGE = {"from": "2026-01-05", "to": "2026-01-25"}
STEPS = ["Product Viewed", "Added to Cart", "Order Completed"]


def assert_same_csv(download: str, result: Any) -> None:
    """The console's CSV is the API's with a UTF-8 BOM (Excel in China) and the page's column
    names: the same columns in the same order, the same rows."""
    assert download.startswith("\ufeff"), download[:40]
    header, _, body = download[1:].partition("\n")
    api_header, _, api_body = result.to_csv().partition("\n")
    assert body == api_body
    assert len(header.split(",")) == len(api_header.split(","))


def ev(user: str, event: str, day: float, state: str | None = None, **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "track",
        "event": event,
        "userId": user,
        "messageId": f"{user}-{event}-{day}",
        "timestamp": (T0 + timedelta(days=day)).isoformat() + "Z",
        "properties": props,
    }
    if state:
        out["context"] = {"state": state}
    return out


@pytest.fixture
def brand(server) -> None:
    """a: viewed, carted, ordered (100) on day 0 through WeCom; b: viewed and carted on day 1
    through WeCom, ordered (50) on day 2; c: viewed (store) day 1, carted day 3; d: viewed day 2
    (no channel). a and b come back to view in the second week."""
    s = server.client
    s.create_channel("wecom-main", "wecom", "企微主号")
    s.create_channel("store", "store", "门店")
    s.create_entry_code("wecom-main", "qr-w")
    s.create_entry_code("store", "qr-s")
    calls = [
        ev("a", "Product Viewed", 0, "qr-w"),
        ev("a", "Added to Cart", 0.05),
        ev("a", "Order Completed", 0.1, amount=100),
        ev("b", "Product Viewed", 1, "qr-w"),
        ev("b", "Added to Cart", 1.1),
        ev("b", "Order Completed", 2, amount=50),
        ev("c", "Product Viewed", 1, "qr-s"),
        ev("c", "Added to Cart", 3),
        ev("d", "Product Viewed", 2),
        ev("a", "Product Viewed", 7),
        ev("b", "Product Viewed", 8),
    ]
    assert s.batch(calls).accepted == len(calls)


def raw(v: Any) -> str:
    """How the page writes a value into ``data-v`` (written independently of the page code)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def page_table(text: str) -> tuple[list[str], list[list[str]]]:
    m = re.search(r'<table id="analysis-table"[^>]*>(.*?)</table>', text, re.S)
    assert m, "no #analysis-table on the page"
    columns = re.findall(r'<th data-col="([^"]+)"', m.group(1))
    body = re.findall(r"<tr>(.*?)</tr>", m.group(1).split("</thead>")[-1], re.S)
    rows = [[html.unescape(v) for v in re.findall(r'data-v="([^"]*)"', r)] for r in body]
    return columns, rows


def expected_table(result: Any) -> tuple[list[str], list[list[str]]]:
    frame = result.frame()
    return frame.column_names, [[raw(r[c]) for c in frame.column_names] for r in frame.to_pylist()]


def csv_link(text: str) -> str:
    m = re.search(r'<a id="export-csv"[^>]* href="([^"]+)"', text) or re.search(
        r'<a id="export-csv" href="([^"]+)"', text
    )
    assert m, "no #export-csv link"
    return html.unescape(m.group(1))


def form_query(params: dict[str, Any]) -> str:
    return urlencode({"run": "1", **params})


def test_funnel_page_matches_the_api_and_exports_csv(server, brand, console_as) -> None:
    browser = console_as("viewer")
    form = {"steps": "\n".join(STEPS), "window_days": "14", "mode": "sequential", **RANGE}
    page = browser.get(f"/console/analytics/funnel?{form_query(form)}")
    assert page.status_code == 200, page.text[:500]
    text = page.text
    # the ids the browser tests rely on
    for marker in ('id="analysis-form"', 'name="steps"', 'id="run-analysis"', 'id="analysis-chart"'):
        assert marker in text
    assert '<script src="/console/static/vendor/plotly.min.js">' in text
    params = {"steps": [{"event": e} for e in STEPS], "window_days": 14, **RANGE}
    result = server.client.analytics.run("funnel", params)
    columns, rows = page_table(text)
    assert (columns, rows) == expected_table(result)
    # counted by hand: 4 viewed, 3 carted, 2 ordered
    assert [r[columns.index("count")] for r in rows] == ["4", "3", "2"]
    # the steps stay in the form
    assert "Product Viewed\nAdded to Cart\nOrder Completed</textarea>" in text
    csv = browser.get(csv_link(text))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    # a spreadsheet download: UTF-8 BOM, headers in the reader's language (this viewer: English)
    assert csv.content.startswith(b"\xef\xbb\xbf")
    body = csv.content.decode("utf-8-sig")
    raw = result.frame().column_names
    assert "count" in raw
    header = next(csv_module.reader([body.splitlines()[0]]))
    assert header[raw.index("count")] == "Count" and len(header) == len(raw)
    assert body.splitlines()[1:] == result.to_csv().splitlines()[1:]
    same = browser.get(f"/console/analytics/funnel?{urlencode({**form, 'format': 'csv'})}")
    assert same.content == csv.content


def test_funnel_breakdown_by_first_channel(server, brand, console_as) -> None:
    form = {"steps": "Product Viewed\nOrder Completed", "breakdown": "first_channel", **RANGE}
    text = console_as("analyst").get(f"/console/analytics/funnel?{form_query(form)}").text
    params = {
        "steps": [{"event": "Product Viewed"}, {"event": "Order Completed"}],
        "breakdown": {"by": "first_channel"},
        **RANGE,
    }
    assert page_table(text) == expected_table(server.client.analytics.run("funnel", params))
    columns, rows = page_table(text)
    assert {r[columns.index("breakdown")] for r in rows} == {"企微主号", "门店", "(none)"}


PAGES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    (
        "retention",
        {"start_event": "Product Viewed", "period": "week", "type": "first_time", "mode": "on", **RANGE},
        {"start_event": "Product Viewed", "period": "week", **RANGE},
    ),
    ("lifecycle", {"period": "week", **RANGE}, {"period": "week", **RANGE}),
    ("activity", {"event": "Product Viewed", **RANGE}, {"event": "Product Viewed", **RANGE}),
    ("attribution", {"model": "linear", **RANGE}, {"model": "linear", **RANGE}),
    ("attribution", {"model": "all", "lookback_days": "10", **RANGE}, {"lookback_days": 10, **RANGE}),
    ("roi", {"by": "channel", **RANGE}, RANGE),
]


@pytest.mark.parametrize(
    ("kind", "form", "params"), PAGES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(PAGES)]
)
def test_each_analysis_page_matches_the_api(server, brand, console_as, kind, form, params) -> None:
    browser = console_as("viewer")
    page = browser.get(f"/console/analytics/{kind}?{form_query(form)}")
    assert page.status_code == 200, page.text[:500]
    result = server.client.analytics.run(kind, params)
    columns, rows = page_table(page.text)
    assert (columns, rows) == expected_table(result)
    assert rows, "the hand-made brand gives every analysis some rows"
    assert 'id="analysis-chart" data-figure=' in page.text
    assert_same_csv(browser.get(csv_link(page.text)).text, result)


def test_retention_shows_cohort_grid_and_curve(server, brand, console_as) -> None:
    form = {"start_event": "Product Viewed", "period": "week", **RANGE}
    text = console_as("viewer").get(f"/console/analytics/retention?{form_query(form)}").text
    assert 'id="retention-curve" data-figure=' in text
    # week of 5 Jan: a, b, c, d start; a and b view again in week 1 (2 of 4)
    cohort = re.search(r'<tr data-cohort="2026-01-05">(.*?)</tr>', text, re.S)
    assert cohort, text
    assert re.findall(r'class="num">(\d+)<', cohort.group(1)) == ["4"]
    assert re.findall(r'title="(\d+)"', cohort.group(1))[:2] == ["4", "2"]
    assert "50.0%" in cohort.group(1)


def test_bad_parameters_name_the_field_and_keep_the_input(server, brand, console_as) -> None:
    browser = console_as("viewer")
    page = browser.get(f"/console/analytics/funnel?{form_query({'steps': 'Only One Step', **RANGE})}")
    assert page.status_code == 422
    err = re.search(r'<label class="field-error" data-field="([^"]+)">', page.text)
    assert err and err.group(1) == "steps"
    assert re.search(r'id="field-error"[^>]*>Invalid parameter \(steps\)', page.text)
    assert "Only One Step</textarea>" in page.text
    assert 'id="analysis-table"' not in page.text

    query = form_query({"steps": "A\nB", "window_days": "soon", **RANGE})
    page = browser.get(f"/console/analytics/funnel?{query}")
    assert page.status_code == 422
    assert 'data-field="window_days"' in re.search(r'<label class="field-error"[^>]*>', page.text).group(0)
    assert 'value="soon"' in page.text

    query = form_query({"start_event": "X", "from": "2026-02-01", "to": "2026-01-01"})
    page = browser.get(f"/console/analytics/retention?{query}")
    assert page.status_code == 422 and 'data-field="to"' in page.text and "field-error" in page.text

    browser.cookies.set("siyu_lang", "zh")
    page = browser.get(f"/console/analytics/funnel?{form_query({'steps': 'Only One Step'})}")
    assert "参数有误（steps）" in page.text

    # the CSV of bad parameters is an error page naming the field, not a file
    csv = browser.get("/console/analytics/funnel.csv?steps=Only+One+Step")
    assert csv.status_code == 422 and "steps" in csv.text and "text/html" in csv.headers["content-type"]


def test_index_lists_every_analysis_and_viewers_may_use_it(server, console_as, brand) -> None:
    viewer = console_as("viewer")
    index = viewer.get("/console/analytics")
    assert index.status_code == 200
    kinds = re.findall(r'href="/console/analytics/([a-z_]+)" data-kind', index.text)
    assert kinds == [
        "funnel",
        "retention",
        "lifecycle",
        "activity",
        "attribution",
        "roi",
        "member_repurchase",
        "points_liability",
        "tiers",
        "coupons",
        "experiment",
    ]
    for kind in kinds:
        page = viewer.get(f"/console/analytics/{kind}")
        assert page.status_code == 200 and 'id="analysis-form"' in page.text
        assert 'id="analysis-empty"' in page.text  # not run until asked
    assert viewer.get("/console/analytics/nonsense").status_code == 404
    assert viewer.get("/console/analytics/nonsense.csv").status_code == 404
    # signed-out visitors go to the sign-in page
    with httpx.Client(base_url=server.url) as anonymous:
        resp = anonymous.get("/console/analytics/funnel")
    assert resp.status_code == 303 and "/console/login" in resp.headers["location"]


SPLIT_JOURNEY = {
    "key": "welcome-ab",
    "name": "欢迎 A/B",
    "trigger": {"list": True},
    "steps": [
        {
            "id": "ab",
            "split": {
                "variants": [
                    {"name": "a", "weight": 1, "next": "pause"},
                    {"name": "b", "weight": 1, "next": "pause"},
                ]
            },
        },
        {"id": "pause", "wait": "1d"},
    ],
}


def test_experiment_page_tests_journey_splits(server, console_as) -> None:
    """The split's counts are written as the engine writes them (a ``variant`` step run per
    assigned contact, ``converted`` with the variant for each conversion): a 40/8, b 40/16."""
    s = server.client
    s.journeys.create(SPLIT_JOURNEY)
    assert s.journeys.stats("welcome-ab")["enrolled"] == 0
    with s.ctx.db.session() as session:
        journey_id = session.scalar(select(Journey.id).where(Journey.key == "welcome-ab"))
        runs = []
        for variant, n, converted in (("a", 40, 8), ("b", 40, 16)):
            for i in range(n):
                enrolment = 1000 * (variant == "b") + i
                runs.append(("ab", "variant", variant, enrolment))
                if i < converted:
                    runs.append(("pause", "converted", variant, enrolment))
        session.add_all(
            JourneyStepRun(
                journey_id=journey_id, enrolment_id=e, contact_id=e, step=step, outcome=o, variant=v
            )
            for step, o, v, e in runs
        )
        session.commit()
    browser = console_as("viewer")
    listing = browser.get("/console/analytics/experiment").text
    row = re.search(r'<tr data-journey="welcome-ab" data-split="ab"[^>]*>(.*?)</tr>', listing, re.S)
    assert row, listing
    assert re.findall(r'data-variant="(\w)" data-n="(\d+)" data-conversions="(\d+)"', row.group(1)) == [
        ("a", "40", "8"),
        ("b", "40", "16"),
    ]
    page = browser.get("/console/analytics/experiment?journey=welcome-ab&split=ab")
    assert page.status_code == 200
    params = {
        "metric": "conversion",
        "variants": [{"name": "a", "n": 40, "conversions": 8}, {"name": "b", "n": 40, "conversions": 16}],
        "weights": [1, 1],
    }
    result = s.analytics.run("experiment", params)
    assert page_table(page.text) == expected_table(result)
    assert_same_csv(browser.get(csv_link(page.text)).text, result)
    assert browser.get("/console/analytics/experiment?journey=welcome-ab&split=nope").status_code == 404


def test_experiment_from_summary_numbers_and_uploaded_values(server, console_as) -> None:
    browser = console_as("viewer")
    form = {"metric": "conversion", "variants": "control,1000,100\nnew,1000,130", "weights": "50,50"}
    page = browser.get(f"/console/analytics/experiment?{form_query(form)}")
    params = {
        "variants": [
            {"name": "control", "n": 1000, "conversions": 100},
            {"name": "new", "n": 1000, "conversions": 130},
        ],
        "weights": [50, 50],
    }
    result = server.client.analytics.run("experiment", params)
    assert page_table(page.text) == expected_table(result)
    assert_same_csv(browser.get(csv_link(page.text)).text, result)

    bad = browser.get(f"/console/analytics/experiment?{form_query({'variants': 'control,1000'})}")
    assert (
        bad.status_code == 422
        and 'data-field="variants"' in bad.text
        and "control,1000</textarea>" in bad.text
    )

    values = "variant,value\ncontrol,1\ncontrol,2\ncontrol,3\nnew,2\nnew,3\nnew,5\n"
    up = browser.post(
        "/console/analytics/experiment",
        data={"csrf_token": browser.csrf},
        files={"file": ("values.csv", values.encode(), "text/csv")},
    )
    assert up.status_code == 200, up.text[:500]
    expected = server.client.analytics.run(
        "experiment",
        {
            "metric": "mean",
            "variants": [{"name": "control", "values": [1, 2, 3]}, {"name": "new", "values": [2, 3, 5]}],
        },
    )
    assert page_table(up.text) == expected_table(expected)
    assert 'download="experiment.csv"' in up.text
    broken = browser.post(
        "/console/analytics/experiment",
        data={"csrf_token": browser.csrf},
        files={"file": ("values.csv", b"variant,value\ncontrol,x\n", "text/csv")},
    )
    assert broken.status_code == 422 and "values.csv row 1" in broken.text
    no_csrf = browser.post(
        "/console/analytics/experiment", files={"file": ("v.csv", values.encode(), "text/csv")}
    )
    assert no_csrf.status_code == 403
