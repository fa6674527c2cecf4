"""Console pages: the timeline SOP editor (洛书-style rows "day N at HH:MM → template on a
channel"), its pickers and entry preview, and who is waiting at a journey step (masked, with a
CSV export). The editor saves through ``s.journeys.save_timeline`` like the REST API; the
server validates and answers every problem with its field, worded here in the reader's
language, and sop.js shows each one next to its row."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.web import principal_of, render, user_language
from siyu.console.web import text as _t
from siyu.journeys.schemas import JourneyDefinitionError
from siyu.journeys.service import JourneyConflict, JourneyError

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/journeys/sop/new"): P.JOURNEYS_WRITE,
    ("POST", "/console/journeys/sop"): P.JOURNEYS_WRITE,
    ("GET", "/console/journeys/editor/preview"): P.JOURNEYS_READ,
    ("GET", "/console/journeys/{key}/sop"): P.JOURNEYS_WRITE,
    ("GET", "/console/journeys/{key}/steps/{step}"): P.JOURNEYS_READ,
    # masked unless the user holds pii.export (checked here); audited
    ("GET", "/console/journeys/{key}/steps/{step}/export.csv"): P.JOURNEYS_READ,
}
#: Server messages → the text key that words them for the reader (first match wins).
ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"no template '(?P<name>[^']*)'"), "sop_err_template_missing"),
    (re.compile(r"'(?P<name>[^']*)' is a \w+ template"), "sop_err_template_channel"),
    (re.compile(r"needs a time"), "sop_err_needs_time"),
    (re.compile(r"not a time of day"), "sop_err_time"),
    (re.compile(r"time order"), "sop_err_order"),
    (re.compile(r"lower-case letters"), "sop_err_key"),
    (re.compile(r"no segment '(?P<name>[^']*)'"), "sop_err_segment"),
    (re.compile(r"unknown stage"), "sop_err_stage"),
    (re.compile(r"journey '(?P<name>[^']*)' already exists"), "sop_err_exists"),
    (re.compile(r"at least 1 item"), "sop_err_rows"),
    (re.compile(r"[Ff]ield required|at least 1 character|valid string|valid integer"), "sop_err_required"),
)


def word(request: Request, message: str) -> str:
    """A server message in the reader's language."""
    for pattern, key in ERRORS:
        m = pattern.search(message)
        if m:
            return _t(request, key, **m.groupdict())
    return _t(request, "sop_err_other")


def _editor(request: Request, timeline: dict[str, Any] | None, live: bool = False) -> HTMLResponse:
    client = get_client(request)
    options = client.journeys.editor_options()
    channels = [c for c in options["channels"] if c != "wecom_tag"]  # tag sync is not a message
    js_text = {
        k: _t(request, k)
        for k in (
            "sop_choose",
            "sop_remove_row",
            "sop_preview_none",
            "sop_invalid",
            "sop_unless_any",
            "sop_exit_none",
        )
    }
    js_text["preview"] = _t(request, "sop_preview", count="{count}")
    js_text["saved"] = _t(request, "sop_saved", version="{version}")
    js_text["leaving"] = _t(request, "sop_leaving", count="{count}")
    return render(
        request,
        "journeys_sop.html",
        timeline=timeline,
        live=live,
        options=options,
        channels=[{"key": c, "name": _t(request, f"sop_channel_{c}")} for c in channels],
        stages=[{"key": s, "name": _t(request, f"contacts_stage_{s}")} for s in options["stages"]],
        # value stays the event name, the option reads as its catalogue title (下单)
        events=client.events.titles(options["events"], user_language(request)),
        js_text=js_text,
    )


@router.get("/journeys/sop/new")
def sop_new(request: Request) -> HTMLResponse:
    return _editor(request, None)


@router.get("/journeys/{key}/sop")
def sop_edit(request: Request, key: str) -> HTMLResponse:
    client = get_client(request)
    journey = client.journeys.get(key)  # 404 page when unknown
    timeline = client.journeys.timeline(key)
    return _editor(
        request, timeline or {"key": key, "name": journey["name"]}, live=journey["status"] == "active"
    )


@router.get("/journeys/editor/preview")
def sop_preview(request: Request, kind: str = "", value: str = "") -> JSONResponse:
    return JSONResponse(get_client(request).journeys.preview(kind, value))


@router.post("/journeys/sop")
async def sop_save(request: Request) -> JSONResponse:
    """JSON ``{timeline, start, check}`` from sop.js: with ``check`` only validates (and says who
    would leave a running journey), else saves. Problems come back with their field."""
    body = await request.json()
    timeline = body.get("timeline") if isinstance(body, dict) else None
    if not isinstance(timeline, dict):
        return JSONResponse({"ok": False, "errors": [{"path": "sop", "message": "?"}]}, status_code=422)
    client = get_client(request)

    def located(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [{"path": e["path"], "message": word(request, e["message"])} for e in errors]

    checked = await run_in_threadpool(client.journeys.validate_timeline, timeline)
    leaving = sum(checked.get("leaving", {}).values())
    if not checked["ok"]:
        return JSONResponse({"ok": False, "errors": located(checked["errors"])}, status_code=422)
    if body.get("check"):
        return JSONResponse({"ok": True, "errors": [], "leaving": leaving})
    actor = principal_of(request).actor
    try:
        saved = await run_in_threadpool(
            client.journeys.save_timeline, timeline, bool(body.get("start")), actor
        )
    except JourneyDefinitionError as exc:
        return JSONResponse(
            {"ok": False, "errors": located([{"path": exc.path, "message": exc.message}])}, 422
        )
    except (JourneyConflict, JourneyError) as exc:
        return JSONResponse(
            {"ok": False, "errors": [{"path": "key", "message": word(request, str(exc))}]}, 409
        )
    return JSONResponse(
        {
            "ok": True,
            "version": saved["version"],
            "leaving": leaving,
            "redirect": f"/console/journeys/{saved['key']}?done=saved",
        }
    )


@router.get("/journeys/{key}/steps/{step}")
def sop_waiting(request: Request, key: str, step: str, page: int = 1) -> HTMLResponse:
    page = max(page, 1)
    data = get_client(request).journeys.waiting(key, step, limit=100, offset=(page - 1) * 100)
    return render(
        request, "journeys_waiting.html", data=data, page=page, pages=max(1, -(-data["total"] // 100))
    )


@router.get("/journeys/{key}/steps/{step}/export.csv")
def sop_waiting_csv(request: Request, key: str, step: str) -> Response:
    principal = principal_of(request)
    data = get_client(request).journeys.export_waiting(
        key, step, reveal=principal.can(P.PII_EXPORT), actor=principal.actor
    )
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{key}-{step}.csv"'},
    )
