"""Console pages: segments (分群). The list with each segment's size and 30-day trend, the
builder (a visual AND/OR tree generating the JSON definition, with a live count and sample),
a segment's page, save and recompute.

Everything goes through the segments capability the REST API uses (``s.segments``); sizes
over time come from the ``segment.entered``/``exited`` events (segments.history), samples are
masked (segments.samples)."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from siyu.api.deps import get_client, unit_of_work
from siyu.api.files import file_response
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import tr
from siyu.console.texts.labels import LABELS, label
from siyu.console.texts.segments import TEXT
from siyu.console.web import PageError, language, principal_of, render
from siyu.console.web import text as _t
from siyu.segments.documents import to_yaml
from siyu.segments.history import SegmentSize
from siyu.segments.samples import member_cards
from siyu.segments.schemas import STAGES, SegmentDefinitionError
from siyu.segments.service import SegmentError, SegmentInUse
from siyu.sources.service import SourcesService
from siyu.tags.service import TagService
from siyu.warehouse.store import WarehouseBusy

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/segments"): P.SEGMENTS_READ,
    ("GET", "/console/segments/new"): P.SEGMENTS_READ,
    ("POST", "/console/segments/preview"): P.SEGMENTS_READ,
    ("POST", "/console/segments"): P.SEGMENTS_WRITE,
    ("GET", "/console/segments/{key}"): P.SEGMENTS_READ,
    ("POST", "/console/segments/{key}/recompute"): P.SEGMENTS_WRITE,
    ("POST", "/console/segments/{key}"): P.SEGMENTS_WRITE,
    ("POST", "/console/segments/{key}/delete"): P.SEGMENTS_WRITE,
    ("GET", "/console/segments/{key}/export"): P.SEGMENTS_READ,
}
SAMPLE = 10
MEMBERS_SHOWN = 20
TREND_DAYS = 30
#: Texts the builder's script shows (the segb_* keys and these).
_JS_KEYS = ("segments_bad_json", "segments_failed", "segments_computing", "segments_count_unit")
EXAMPLE = {
    "type": "and",
    "conditions": [{"type": "event", "event": "Order Completed", "within": {"days": 30}}],
}


def _trends(request: Request, segs: list[dict[str, Any]]) -> dict[int, list[tuple[date, int | None]]]:
    sizes = [SegmentSize(s["id"], s["members"], datetime.fromisoformat(s["created_at"])) for s in segs]
    try:
        return get_client(request).segments.size_history(sizes, TREND_DAYS)
    except WarehouseBusy:
        return {}  # the list still shows sizes; the trend waits for the warehouse


def _sparkline(series: list[tuple[date, int | None]], w: int = 120, h: int = 28) -> dict[str, Any]:
    """Points of a small inline SVG line (no chart library for a table cell)."""
    values = [v for _, v in series if v is not None]
    if not values:
        return {"points": "", "w": w, "h": h, "first": None, "last": None}
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1
    step = w / max(len(series) - 1, 1)
    pts = [
        f"{i * step:.1f},{h - 2 - (v - lo) / span * (h - 4):.1f}"
        for i, (_, v) in enumerate(series)
        if v is not None
    ]
    return {"points": " ".join(pts), "w": w, "h": h, "first": values[0], "last": values[-1]}


def _rows(request: Request) -> list[dict[str, Any]]:
    segs = get_client(request).segments.list()
    trends = _trends(request, segs)
    for s in segs:
        s["trend"] = _sparkline(trends.get(s["id"], []))
    return segs


@router.get("/segments")
def segments_list(request: Request, deleted: str = "") -> HTMLResponse:
    # Only a key-shaped value is echoed (never free text from the URL).
    ok = re.fullmatch(r"[a-z0-9_\-]{1,64}", deleted)
    flash = _t(request, "segments_deleted", key=deleted) if ok else None
    return render(request, "segments.html", segments=_rows(request), flash=flash)


def _choices(request: Request) -> dict[str, Any]:
    """Names the builder offers in its pick lists, from the data (typing anything else works)."""
    try:
        found = get_client(request).segments.choices()
    except WarehouseBusy:  # the builder still works; the lists wait for the warehouse
        with unit_of_work(request) as session:
            found = {
                "events": [],
                "properties": {},
                "tags": [t["key"] for t in TagService(session).list()],
                "channels": [c.key for c in SourcesService(session).channels()],
                "segments": [],
                "rfm": [],
            }
    # tier names in the operator's language (the English name where one is given)
    lang = language(request, principal_of(request))
    tiers = [
        {"key": r["key"], "name": r["name_en"] if lang == "en" else r["name"]} for r in found.get("tiers", [])
    ]
    return {**found, "tiers": tiers, "stages": list(STAGES)}


def _builder(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("definition_text", json.dumps(EXAMPLE, ensure_ascii=False, indent=2))
    context.setdefault("form", {"key": "", "name": "", "kind": "dynamic", "tag": ""})
    lang = language(request, principal_of(request))
    js_text = {k: tr(k, lang) for k in TEXT if k.startswith("segb_") or k in _JS_KEYS}
    js_text.update({f"op_{code}": label("operator", code, lang) for code in LABELS["operator"]})
    js_text.update({f"purpose_{code}": label("purpose", code, lang) for code in LABELS["purpose"]})
    js_text.update(
        {f"consent_{code}": label("consent_state", code, lang) for code in LABELS["consent_state"]}
    )
    return render(
        request, "segments_builder.html", status=status, choices=_choices(request), js_text=js_text, **context
    )


@router.get("/segments/new")
def segments_new(request: Request, copy: str | None = None) -> HTMLResponse:
    context: dict[str, Any] = {}
    if copy:
        seg = get_client(request).segments.get(copy)
        context["definition_text"] = json.dumps(seg["definition"], ensure_ascii=False, indent=2)
        context["form"] = {"key": "", "name": seg["name"], "kind": seg["kind"], "tag": ""}
    return _builder(request, **context)


def _invalid(request: Request, exc: SegmentDefinitionError) -> JSONResponse:
    text = _t(request, "segments_invalid", path=exc.path, message=exc.message)
    return JSONResponse({"detail": text, "path": exc.path, "error": exc.message}, status_code=422)


@router.post("/segments/preview")
def segments_preview(request: Request, body: dict[str, Any]) -> Response:
    """Count and a masked sample of a definition, as ``POST /api/v1/segments/preview``."""
    definition = body.get("definition")
    if not isinstance(definition, dict):
        return _invalid(request, SegmentDefinitionError("definition", "expected an object"))
    try:
        result = get_client(request).segments.preview(definition, SAMPLE)
    except SegmentDefinitionError as exc:
        return _invalid(request, exc)
    except WarehouseBusy as exc:
        return JSONResponse({"detail": _t(request, "segments_failed", message=str(exc))}, status_code=503)
    client = get_client(request)
    with unit_of_work(request) as session:
        sample = member_cards(client.ctx.profiles(session), result["sample"])
    return JSONResponse({"count": result["count"], "sample": sample, "notes": result["notes"]})


async def _submitted(request: Request) -> tuple[dict[str, Any], bool]:
    """The posted segment (form fields or a JSON body) and whether the caller wants JSON."""
    if "json" in request.headers.get("content-type", ""):
        try:
            body = await request.json()
        except ValueError:
            body = None
        return (body if isinstance(body, dict) else {}), True
    form = await request.form()
    return {k: str(v) for k, v in form.items() if k != "csrf_token"}, False


@router.post("/segments")
async def segments_create(request: Request) -> Response:
    data, wants_json = await _submitted(request)
    form = {k: str(data.get(k) or "").strip() for k in ("key", "name", "kind", "tag")}
    form["kind"] = form["kind"] or "dynamic"
    definition: Any = data.get("definition")
    text = definition if isinstance(definition, str) else json.dumps(definition, ensure_ascii=False, indent=2)
    error = None
    try:
        if isinstance(definition, str):
            try:
                definition = json.loads(definition)
            except ValueError as exc:
                raise SegmentDefinitionError("definition", f"not valid JSON: {exc}") from None
        spec = {"key": form["key"], "name": form["name"], "kind": form["kind"], "definition": definition}
        if form["tag"]:
            spec["tag"] = form["tag"]
        actor = principal_of(request).actor
        created = await run_in_threadpool(get_client(request).segments.create, spec, actor)
    except SegmentDefinitionError as exc:
        if wants_json:
            return _invalid(request, exc)
        error = _t(request, "segments_invalid", path=exc.path, message=exc.message)
    except SegmentError as exc:  # the key is taken
        if wants_json:
            return JSONResponse({"detail": str(exc)}, status_code=409)
        error = _t(request, "invalid_input", what=str(exc))
    if error is not None:
        return await run_in_threadpool(
            lambda: _builder(request, status=422, error=error, definition_text=text, form=form)
        )
    if wants_json:
        return JSONResponse(created, status_code=201)
    return RedirectResponse(f"/console/segments/{created['key']}?saved=1", status_code=303)


def _figure(series: list[tuple[date, int | None]], name: str) -> str:
    fig = go.Figure(
        go.Scatter(
            x=[d.isoformat() for d, _ in series],
            y=[v for _, v in series],
            mode="lines+markers",
            name=name,
            line={"shape": "hv"},
        )
    )
    fig.update_layout(margin={"l": 40, "r": 10, "t": 10, "b": 30}, height=220, showlegend=False)
    fig.update_yaxes(rangemode="tozero")
    return fig.to_json().replace("</", "<\\/")  # embedded in a <script> element


@router.get("/segments/{key}")
def segments_page(request: Request, key: str, saved: int = 0) -> HTMLResponse:
    return _segment_page(request, key, saved)


def _segment_page(
    request: Request, key: str, saved: int = 0, status: int = 200, **extra: Any
) -> HTMLResponse:
    client = get_client(request)
    seg = client.segments.get(key)
    member_ids = client.segments.members(key, MEMBERS_SHOWN)
    with unit_of_work(request) as session:
        members = member_cards(client.ctx.profiles(session), member_ids)
    trend = _trends(request, [seg]).get(seg["id"], [])
    flash = _t(request, "segments_saved", members=seg["members"]) if saved else None
    if saved and seg["version"] > 1:
        flash = _t(request, "segments_updated", version=seg["version"], members=seg["members"])
    return _builder(
        request,
        status=status,
        segment=seg,
        members=members,
        versions=client.segments.versions(key),
        figure=_figure(trend, seg["name"]) if trend else None,
        yaml=to_yaml(seg["definition"]),
        definition_text=extra.pop("definition_text", None)
        or json.dumps(seg["definition"], ensure_ascii=False, indent=2),
        form=extra.pop("form_override", None)
        or {"key": seg["key"], "name": seg["name"], "kind": seg["kind"], "tag": seg["tag"] or ""},
        flash=flash,
        **extra,
    )


@router.post("/segments/{key}/recompute")
async def segments_recompute(request: Request, key: str, full: int = 0) -> Response:
    """Recompute one segment (can take a while on a large brand: the page shows it busy)."""
    result = (await run_in_threadpool(get_client(request).segments.recompute, key, bool(full)))[0]
    summary = {
        k: result[k] for k in ("segment", "mode", "members", "entered_count", "exited_count", "seconds")
    }
    summary["message"] = _t(
        request,
        "segments_recomputed",
        mode=result["mode"],
        members=result["members"],
        entered=result["entered_count"],
        exited=result["exited_count"],
        seconds=result["seconds"],
    )
    if "json" in request.headers.get("accept", "") or "json" in request.headers.get("content-type", ""):
        return JSONResponse(summary)
    return RedirectResponse(f"/console/segments/{key}", status_code=303)


@router.post("/segments/{key}")
async def segments_update(request: Request, key: str) -> Response:
    """Save an edit: a new version under the same key, recomputed (the page shows the result)."""
    data, wants_json = await _submitted(request)
    definition: Any = data.get("definition")
    text = definition if isinstance(definition, str) else json.dumps(definition, ensure_ascii=False, indent=2)
    error = None
    try:
        if isinstance(definition, str):
            try:
                definition = json.loads(definition)
            except ValueError as exc:
                raise SegmentDefinitionError("definition", f"not valid JSON: {exc}") from None
        spec: dict[str, Any] = {"definition": definition}
        if "name" in data:
            spec["name"] = str(data["name"]).strip()
        if "tag" in data:
            spec["tag"] = str(data["tag"] or "").strip() or None
        actor = principal_of(request).actor
        updated = await run_in_threadpool(get_client(request).segments.update, key, spec, actor)
    except SegmentDefinitionError as exc:
        if wants_json:
            return _invalid(request, exc)
        error = _t(request, "segments_invalid", path=exc.path, message=exc.message)
    if error is not None:
        form = {"key": key, "name": str(data.get("name", "")), "tag": str(data.get("tag") or "")}
        return await run_in_threadpool(
            lambda: _segment_page(
                request, key, status=422, error=error, definition_text=text, form_override=form
            )
        )
    if wants_json:
        return JSONResponse(updated)
    return RedirectResponse(f"/console/segments/{key}?saved=1", status_code=303)


@router.post("/segments/{key}/delete")
async def segments_delete(request: Request, key: str) -> Response:
    """Delete, unless journeys or other segments still use it: then say which, in words."""
    try:
        await run_in_threadpool(get_client(request).segments.delete, key, principal_of(request).actor)
    except SegmentInUse as exc:
        journeys = exc.users["journeys"] + exc.users["tag_journeys"]
        parts = []
        if journeys:
            parts.append(_t(request, "segments_used_by_journeys", names="、".join(journeys)))
        if exc.users["segments"]:
            parts.append(_t(request, "segments_used_by_segments", names="、".join(exc.users["segments"])))
        error = _t(request, "segments_in_use", what="；".join(parts))
        return await run_in_threadpool(lambda: _segment_page(request, key, status=409, error=error))
    return RedirectResponse("/console/segments?deleted=" + key, status_code=303)


@router.get("/segments/{key}/export")
def segments_export(request: Request, key: str, format: str = "xlsx", reveal: int = 0) -> Response:
    """The members as an XLSX or CSV (with BOM) download; clear values only with pii.export."""
    principal = principal_of(request)
    if reveal and not principal.can(P.PII_EXPORT):
        raise PageError(403, "forbidden", {"role": principal.role, "permission": P.PII_EXPORT.value})
    fmt = "csv" if format == "csv" else "xlsx"
    lang = language(request, principal)
    file = get_client(request).segments.export(
        key, fmt, reveal=bool(reveal), actor=principal.actor, lang=lang
    )
    return file_response(file, f"segment-{key}")
