"""Console pages: analytics (分析). An index, then one page per analysis: a parameter form,
the result's table and chart, and its CSV.

Pages run on ``GET`` with the parameters in the query string, so every result has an address
to share. The form's fields map onto the analysis's parameter document (the REST body) and the
analysis runs through ``s.analytics.run`` as the REST API does, so the page, the API and the
CLI always show the same numbers. A bad parameter (``AnalyticsError``: field and message) is
shown next to its field with everything typed kept.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile

from siyu.analytics.base import AnalyticsError
from siyu.analytics.experiments.inputs import read_values_csv
from siyu.analytics.experiments.split_tests import find_split_test, split_tests
from siyu.analytics.loyalty.coupons import template_choices
from siyu.analytics.result import AnalysisResult
from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.console.analytics_summary import summary
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT, tr
from siyu.console.web import PageError, language, render, user_language
from siyu.exports.labels import analytics_headers

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/analytics"): P.ANALYTICS_READ,
    ("GET", "/console/analytics/experiment"): P.ANALYTICS_READ,
    # uploading a values file only computes a test; nothing is stored
    ("POST", "/console/analytics/experiment"): P.ANALYTICS_READ,
    ("GET", "/console/analytics/{kind}.csv"): P.ANALYTICS_READ,
    ("GET", "/console/analytics/{kind}"): P.ANALYTICS_READ,
}

#: Rows shown on the page; the CSV always has all of them.
MAX_ROWS = 500
MAX_UPLOAD = 20 << 20


@dataclass(frozen=True)
class Field:
    """A form field: ``text``, ``lines`` (one item per line), ``date``, ``number``, ``select``
    or ``pick`` (a select of the brand's own things, shown by name: coupon templates)."""

    name: str
    kind: str = "text"
    options: tuple[str, ...] = ()
    placeholder: str = ""
    #: ``event`` or ``property``: the input offers the catalogue's names, each shown by its
    #: title (下单, 金额) while the value sent stays the name; ``trait`` only words the hint.
    choices: str = ""


@dataclass(frozen=True)
class Analysis:
    kind: str
    doc: str  # docs/analytics/<doc>.md
    fields: tuple[Field, ...]
    #: Columns left off the page (codes such as tier keys; the other language's names); the
    #: CSV keeps every column.
    hide_zh: tuple[str, ...] = ()
    hide_en: tuple[str, ...] = ()
    #: Columns of yuan, shown with ¥.
    money: tuple[str, ...] = ()
    #: Columns whose values are codes shown in words (``analytics_v_<code>``); ``blank`` is the
    #: word of an empty cell of such a column (a month of expiry: never).
    words: tuple[str, ...] = ()
    blank: str = ""

    def hidden(self, lang: str) -> tuple[str, ...]:
        return self.hide_en if lang == "en" else self.hide_zh


RANGE = (Field("from", "date"), Field("to", "date"))
TIER_CODES = ("tier", "from_tier", "to_tier")
COUPON_MONEY = ("discount", "redeemed_gmv", "gmv_per_issued", "gmv_per_holdout", "incremental_gmv")
MODELS = ("all", "first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")
ANALYSES: dict[str, Analysis] = {
    a.kind: a
    for a in (
        Analysis(
            "funnel",
            "funnels",
            (
                Field("steps", "lines", placeholder="Product Viewed\nOrder Completed"),
                Field("window_days", "number", placeholder="14"),
                Field("mode", "select", ("sequential", "strict", "any_order")),
                *RANGE,
                Field("breakdown", "select", ("", "first_channel", "attribute")),
                Field("breakdown_name", choices="trait"),
            ),
        ),
        Analysis(
            "retention",
            "retention",
            (
                Field("start_event", placeholder="*", choices="event"),
                Field("return_event", choices="event"),
                Field("type", "select", ("first_time", "recurring")),
                Field("period", "select", ("week", "day", "month", "hour")),
                Field("periods", "number"),
                Field("mode", "select", ("on", "on_or_after")),
                *RANGE,
            ),
        ),
        Analysis(
            "lifecycle",
            "activity",
            (
                Field("period", "select", ("week", "day", "month")),
                Field("event", placeholder="*", choices="event"),
                *RANGE,
            ),
        ),
        Analysis("activity", "activity", (Field("event", placeholder="*", choices="event"), *RANGE)),
        Analysis(
            "attribution",
            "attribution",
            (
                Field(
                    "model",
                    "select",
                    MODELS,
                ),
                Field("conversion_event", choices="event"),
                Field("value_property", choices="property"),
                Field("lookback_days", "number", placeholder="30"),
                Field("half_life_days", "number", placeholder="7"),
                *RANGE,
            ),
        ),
        Analysis(
            "roi",
            "economics",
            (
                *RANGE,
                Field("by", "select", ("channel", "campaign")),
                Field("horizon_days", "number"),
                Field("currency", placeholder="CNY"),
                Field("order_event", choices="event"),
                Field("amount_property", choices="property"),
            ),
        ),
        Analysis(
            "member_repurchase",
            "loyalty",
            (*RANGE, Field("currency", placeholder="CNY")),
            money=("gmv", "aov"),
            words=("segment",),
        ),
        Analysis(
            "points_liability",
            "loyalty",
            RANGE,
            money=("liability",),
            words=("month",),
            blank="never",
        ),
        Analysis(
            "tiers",
            "loyalty",
            (*RANGE, Field("table", "select", ("distribution", "migration"))),
            hide_zh=(*TIER_CODES, "tier_name_en", "from_name_en", "to_name_en"),
            hide_en=(*TIER_CODES, "tier_name", "from_name", "to_name"),
            words=("movement",),
        ),
        Analysis(
            "coupons",
            "loyalty",
            (*RANGE, Field("template", "pick"), Field("currency", placeholder="CNY")),
            hide_zh=("template",),
            hide_en=("template",),
            money=COUPON_MONEY,
            words=("note",),
        ),
        Analysis(
            "experiment",
            "experiments",
            (
                Field("metric", "select", ("conversion", "mean")),
                Field("variants", "lines", placeholder="control,1000,100\nnew,1000,120"),
                Field("weights", placeholder="50,50"),
                Field("alpha", "number", placeholder="0.05"),
            ),
        ),
    )
}
#: The index's order.
ORDER = (
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
)


# --- form ⇄ parameters ---------------------------------------------------------------------------
def form_values(request: Request, analysis: Analysis) -> dict[str, str]:
    """What the user typed, per field (a repeated ``steps`` parameter counts as lines)."""
    q = request.query_params
    return {f.name: "\n".join(q.getlist(f.name)).strip() for f in analysis.fields}


def to_params(analysis: Analysis, values: dict[str, str]) -> dict[str, Any]:
    """The analysis's parameter document from the form; empty fields take the defaults.
    Values stay strings: the parameter model converts and reports bad ones by field."""
    params: dict[str, Any] = {}
    for f in analysis.fields:
        v = values.get(f.name, "").strip()
        if v and f.kind == "lines":
            params[f.name] = [line.strip() for line in v.splitlines() if line.strip()]
        elif v:
            params[f.name] = v
    if analysis.kind == "funnel":
        params["steps"] = [{"event": e} for e in params.get("steps", [])]
        by, name = params.pop("breakdown", None), params.pop("breakdown_name", None)
        if by:
            params["breakdown"] = {"by": by, **({"name": name} if name else {})}
    if analysis.kind == "experiment":
        params["variants"] = [
            _variant(line, i, params.get("metric")) for i, line in enumerate(params.get("variants", []))
        ]
        if "weights" in params:
            params["weights"] = [w.strip() for w in params["weights"].split(",") if w.strip()]
    return params


def _variant(line: str, i: int, metric: str | None) -> dict[str, Any]:
    """``name,users,conversions`` (conversion) or ``name,users,mean,sd`` (mean)."""
    cells = [c.strip() for c in re.split(r"[,\t]", line)]
    names = ("name", "n", "mean", "sd") if metric == "mean" else ("name", "n", "conversions")
    if len(cells) != len(names):
        raise AnalyticsError(f"variants[{i}]", f"expected {','.join(names)}, got {line!r}")
    return dict(zip(names, cells, strict=True))


def field_of(path: str) -> str:
    """The form field an error path points at (``steps[1].event`` → ``steps``)."""
    if path.startswith("breakdown.name"):
        return "breakdown_name"
    root = re.split(r"[.\[]", path, maxsplit=1)[0]
    return "from" if root == "from_" else root


# --- result ⇄ page ---------------------------------------------------------------------------------
_PERCENT = re.compile(
    r"(^|_)(rate|share|stickiness|chance_to_win|lift|roi)$|^conversion_from_|removal_effect$"
)


def cell(column: str, v: Any, a: Analysis | None = None, lang: str = "zh") -> tuple[str, str, bool]:
    """(shown, raw, numeric) of one value: rates as percentages, money-sized numbers grouped,
    the analysis's money columns in ¥ and its coded columns in words."""
    if a is not None and column in a.words:
        code = v if v is not None else a.blank
        if code and f"analytics_v_{code}" in TEXT:
            return tr(f"analytics_v_{code}", lang), "" if v is None else str(v), False
    if a is not None and column in a.money and isinstance(v, int | float) and not isinstance(v, bool):
        return f"¥{v:,.2f}", repr(v) if isinstance(v, float) else str(v), True
    if v is None:
        return "–", "", False
    if isinstance(v, bool):
        return str(v).lower(), str(v).lower(), False
    if isinstance(v, int):
        return f"{v:,}", str(v), True
    if isinstance(v, float):
        if _PERCENT.search(column):
            return f"{v:.1%}", repr(v), True
        return (f"{v:,.2f}" if abs(v) >= 100 else f"{v:,.4g}"), repr(v), True
    if isinstance(v, date | datetime):
        return v.isoformat(), v.isoformat(), False
    return str(v), str(v), False


def table_of(result: AnalysisResult, a: Analysis | None = None, lang: str = "zh") -> dict[str, Any]:
    """The page's table: the analysis's columns minus the hidden ones, headed in ``lang``."""
    frame = result.frame()
    hidden = a.hidden(lang) if a is not None else ()
    columns = [c for c in frame.column_names if c not in hidden]
    rows = frame.slice(0, MAX_ROWS).to_pylist()
    names = analytics_headers(columns, lang)
    return {
        "columns": columns,
        "headers": [names.get(c, c) for c in columns],
        "rows": [[cell(c, r[c], a, lang) for c in columns] for r in rows],
        "total": frame.num_rows,
    }


def figure_json(result: AnalysisResult, lang: str) -> str:
    """The chart, in ``lang`` when the result words its own labels (``figure(lang=…)``)."""
    if "lang" in inspect.signature(result.figure).parameters:
        return str(result.figure(lang=lang).to_json())  # type: ignore[call-arg]
    return str(result.figure().to_json())


def retention_view(result: AnalysisResult, lang: str) -> dict[str, Any]:
    """The cohort table as a grid (cohorts × periods) and the average curve."""
    payload = result.to_dict()
    avg = payload["average"]
    fig = go.Figure(
        go.Scatter(
            x=[a["period"] for a in avg],
            y=[a["rate"] for a in avg],
            mode="lines+markers",
            name=tr("analytics_average", lang),
            customdata=[a["contacts"] for a in avg],
            hovertemplate="%{x}: %{y:.1%} (%{customdata})<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis={"tickformat": ".0%", "rangemode": "tozero"},
        xaxis={"title": payload["period"], "dtick": 1},
        margin={"t": 16},
    )
    return {"payload": payload, "curve": fig.to_json()}


def _csv(result: AnalysisResult, kind: str, lang: str = "zh") -> Response:
    """A download for spreadsheets: BOM and headers in the reader's language."""
    headers = analytics_headers(result.frame().column_names, lang)
    return PlainTextResponse(
        result.to_csv(headers, bom=True),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


def _analysis(kind: str) -> Analysis:
    analysis = ANALYSES.get(kind)
    if analysis is None:
        raise PageError(404, "not_found", {"what": kind})
    return analysis


def _params_for(request: Request, analysis: Analysis, values: dict[str, str]) -> dict[str, Any]:
    """The parameters of a page: an experiment may name a journey split instead of numbers."""
    q = request.query_params
    if analysis.kind == "experiment" and q.get("journey") and q.get("split"):
        with unit_of_work(request) as session:
            test = find_split_test(session, q["journey"], q["split"])
        if test is None:
            raise PageError(404, "not_found", {"what": f"{q['journey']} / {q['split']}"})
        return dict(test["params"])
    return to_params(analysis, values)


def _picks(request: Request, analysis: Analysis) -> dict[str, list[tuple[str, str]]]:
    """The options of the form's ``pick`` fields: (value, the brand's name for it)."""
    if not any(f.kind == "pick" for f in analysis.fields):
        return {}
    with unit_of_work(request) as session:
        return {"template": template_choices(session)}


def _page(
    request: Request,
    analysis: Analysis,
    values: dict[str, str],
    result: AnalysisResult | None,
    error: AnalyticsError | None,
    **extra: Any,
) -> HTMLResponse:
    lang = language(request, getattr(request.state, "principal", None))
    query = {k: v for k, v in request.query_params.multi_items() if k not in ("run", "format")}
    context: dict[str, Any] = {
        "a": analysis,
        "values": values,
        "result": None,
        "csv_href": f"/console/analytics/{analysis.kind}.csv?{urlencode(list(query.items()))}",
        "field_error": None,
        "top_error": None,
        "option": lambda v: tr(f"analytics_o_{v}", lang) if f"analytics_o_{v}" in TEXT else v,
        "choices": get_client(request).events.choices(lang),
        "picks": _picks(request, analysis),
    }
    if error is not None:
        target = field_of(error.field)
        shown = tr("analytics_bad_param", lang, field=error.field or "-", message=error.message)
        if error.field and target in values:
            context["field_error"] = {"field": target, "text": shown}
        else:
            context["top_error"] = (
                shown if error.field else tr("analytics_bad_general", lang, message=error.message)
            )
    if result is not None:
        context["result"] = result
        context["table"] = table_of(result, analysis, lang)
        context["figure"] = figure_json(result, lang)
        context["summary"] = summary(analysis.kind, result.to_dict(), lang)
        if analysis.kind == "retention":
            context["retention"] = retention_view(result, lang)
    template = "analytics_experiment.html" if analysis.kind == "experiment" else "analytics_run.html"
    return render(request, template, status=422 if error else 200, **context, **extra)


# --- routes ------------------------------------------------------------------------------------------
@router.get("/analytics")
def analytics_index(request: Request) -> HTMLResponse:
    return render(request, "analytics.html", analyses=[ANALYSES[k] for k in ORDER])


def _experiment_extra(request: Request) -> dict[str, Any]:
    with unit_of_work(request) as session:
        tests = split_tests(session)
    q = request.query_params
    return {"tests": tests, "picked": (q.get("journey"), q.get("split")), "upload_csv": None}


@router.get("/analytics/experiment")
def experiment_page(request: Request, format: str | None = None) -> Response:
    return analysis_page(request, "experiment", format)


@router.post("/analytics/experiment")
async def experiment_upload(request: Request) -> Response:
    """Per-user values from a CSV (``variant,value[,pre_value]``): a mean-metric test, with
    CUPED when pre-period values are given. Computed, shown and offered as CSV; not stored.
    The form is read here, after the console's guard signed the user in (as a File parameter,
    FastAPI would spool the upload to disk before the guard)."""
    analysis = ANALYSES["experiment"]
    values = {f.name: "" for f in analysis.fields}
    extra = _experiment_extra(request)
    async with request.form(max_files=1, max_fields=5) as form:
        file = form.get("file")
        data = await file.read(MAX_UPLOAD + 1) if isinstance(file, UploadFile) else b""
        filename = (file.filename if isinstance(file, UploadFile) else None) or "file"
    try:
        if not data:
            raise AnalyticsError("file", "empty or missing")
        if len(data) > MAX_UPLOAD:
            raise AnalyticsError("file", f"larger than {MAX_UPLOAD >> 20} MB")
        variants = read_values_csv(data.decode("utf-8-sig", errors="replace"), filename)
        result = get_client(request).analytics.run("experiment", {"metric": "mean", "variants": variants})
    except AnalyticsError as exc:
        return _page(request, analysis, values, None, exc, **extra)
    extra["upload_csv"] = "data:text/csv;charset=utf-8," + quote(result.to_csv())
    return _page(request, analysis, values, result, None, **extra)


@router.get("/analytics/{kind}.csv")
def analysis_csv(request: Request, kind: str) -> Response:
    """The result's main table as CSV (bad parameters: the error page names the field)."""
    analysis = _analysis(kind)
    params = _params_for(request, analysis, form_values(request, analysis))
    return _csv(get_client(request).analytics.run(kind, params), kind, user_language(request))


@router.get("/analytics/{kind}")
def analysis_page(request: Request, kind: str, format: str | None = None) -> Response:
    analysis = _analysis(kind)
    if format == "csv":
        return analysis_csv(request, kind)
    values = form_values(request, analysis)
    extra = _experiment_extra(request) if kind == "experiment" else {}
    q = request.query_params
    if "run" not in q and not (kind == "experiment" and q.get("journey")):
        return _page(request, analysis, values, None, None, **extra)
    try:
        result = get_client(request).analytics.run(kind, _params_for(request, analysis, values))
    except AnalyticsError as exc:
        return _page(request, analysis, values, None, exc, **extra)
    return _page(request, analysis, values, result, None, **extra)
