"""Console pages: journeys (SOP 旅程). The list with each journey's headline numbers, a
journey's page with its step graph drawn (server-side SVG from journeys.graph) carrying the
report's per-step numbers, A/B results, the definition, and start / pause; a JSON/YAML editor
creates drafts. Everything goes through ``s.journeys``, as the REST API does."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.console.pages_graph import versions_of
from siyu.console.permissions import RouteTable
from siyu.console.web import principal_of, render
from siyu.console.web import text as _t
from siyu.journeys.engine import spec_of
from siyu.journeys.graph import BOX_H, BOX_W, layout
from siyu.journeys.overview import journeys_overview, trigger_text
from siyu.journeys.schemas import JourneyDefinitionError
from siyu.journeys.service import JourneyConflict, JourneyError, JourneyNotFound, JourneyService
from siyu.journeys.timeline import from_journey
from siyu.store.documents import load_yaml

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/journeys"): P.JOURNEYS_READ,
    ("POST", "/console/journeys"): P.JOURNEYS_WRITE,
    ("GET", "/console/journeys/{key}"): P.JOURNEYS_READ,
    ("POST", "/console/journeys/{key}/start"): P.JOURNEYS_WRITE,
    ("POST", "/console/journeys/{key}/pause"): P.JOURNEYS_WRITE,
}
#: ``?done=`` after a redirect → the message shown (fixed texts: nothing from the URL is echoed).
DONE = {
    "started": "journeys_started",
    "paused": "journeys_paused",
    "created": "journeys_created",
    "saved": "sop_done_saved",
}
SKIPS = ("skipped_cap", "skipped_quiet", "skipped_consent", "skipped_no_address", "skipped_at_send")
EXAMPLE = """key: welcome-sop
name: 新客欢迎 SOP
trigger: {tag_added: new-customer}
goal: {event: Order Completed}
steps:
  - {id: welcome, send: {channel: sms, template: welcome-sms}}
  - {id: day3, wait: 3d}
  - {id: vip, add_tag: nurtured}
"""


@router.get("/journeys")
def journeys_list(request: Request) -> HTMLResponse:
    return _list(request)


def _list(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    with unit_of_work(request) as session:
        rows = journeys_overview(session)
    context.setdefault("document", EXAMPLE)
    return render(request, "journeys.html", status=status, journeys=rows, **context)


@router.post("/journeys")
async def journeys_create(request: Request) -> Response:
    """A draft from a JSON or YAML document; errors name the field and keep the text."""
    form = await request.form()
    text = str(form.get("document") or "")
    try:
        try:
            doc = load_yaml(text)
        except yaml.YAMLError as exc:
            raise JourneyDefinitionError("journey", str(exc).replace("\n", " ")) from None
        if not isinstance(doc, dict):  # a bare string would be read as a file path
            raise JourneyDefinitionError("journey", "expected an object with key, name, trigger and steps")
        actor = principal_of(request).actor
        created = await run_in_threadpool(get_client(request).journeys.create, doc, actor)
    except JourneyDefinitionError as exc:
        # errors with a code are worded in the reader's language; the others name the field
        message = _t(request, f"journeys_error_{exc.code}", **exc.params) if exc.code else exc.message
        error = _t(request, "journeys_invalid", path=exc.path, message=message)
        return await run_in_threadpool(lambda: _list(request, 422, error=error, document=text))
    except JourneyError as exc:  # the key is taken
        error = _t(request, "invalid_input", what=str(exc))
        return await run_in_threadpool(lambda: _list(request, 409, error=error, document=text))
    return RedirectResponse(f"/console/journeys/{created['key']}?done=created", status_code=303)


def _edge_label(request: Request, kind: str, label: str) -> str:
    if kind in ("else", "event", "timeout"):
        return _t(request, f"journeys_edge_{kind}")
    return label


def _graph(request: Request, spec: Any, steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The laid-out graph with each box's numbers and each edge's label in the user's language."""
    g = layout(spec)
    nodes = []
    for n in g.nodes:
        s = steps.get(n.id, {})
        nodes.append(
            {
                "id": n.id,
                "action": _t(request, "journeys_action_exit") if n.action == "exit" else n.action,
                "detail": n.detail,
                "x": n.x,
                "y": n.y,
                "end": n.action == "exit",
                "stats": s,
                "skipped": sum(int(s.get(k, 0)) for k in SKIPS),
            }
        )
    edges = []
    for e in g.edges:
        edges.append(
            {
                "source": e.source,
                "target": e.target,
                "kind": e.kind,
                "back": e.back,
                "points": " ".join(f"{x:.0f},{y:.0f}" for x, y in e.points),
                "label": _edge_label(request, e.kind, e.label),
                "lx": e.label_at[0],
                "ly": e.label_at[1],
            }
        )
    return {"nodes": nodes, "edges": edges, "width": g.width, "height": g.height, "w": BOX_W, "h": BOX_H}


def _page(request: Request, key: str, status: int = 200, **context: Any) -> HTMLResponse:
    client = get_client(request)
    report = client.journeys.stats(key)
    with unit_of_work(request) as session:
        journey = JourneyService(session).get(key)
        spec = spec_of(journey)
        definition = journey.definition
    steps = {s["id"]: s for s in report["steps"]}
    for s in report["steps"]:
        s["skipped"] = sum(int(s.get(k, 0)) for k in SKIPS)
    return render(
        request,
        "journeys_detail.html",
        status=status,
        report=report,
        trigger=trigger_text(spec.trigger),
        graph=_graph(request, spec, steps),
        definition=yaml.safe_dump(definition, allow_unicode=True, sort_keys=False),
        is_timeline=from_journey(definition) is not None,
        versions=versions_of(request, key),
        **context,
    )


@router.get("/journeys/{key}")
def journeys_page(request: Request, key: str, done: str | None = None) -> HTMLResponse:
    flash = _t(request, DONE[done]) if done in DONE else None
    return _page(request, key, flash=flash)


def _change(request: Request, key: str, action: str) -> Response:
    client = get_client(request)
    try:
        getattr(client.journeys, action)(key, actor=principal_of(request).actor)
    except JourneyNotFound:
        raise  # the 404 page
    except JourneyError as exc:  # archived, or a template / segment it names is missing
        status = 409 if isinstance(exc, JourneyConflict) else 422
        return _page(request, key, status=status, error=_t(request, "journeys_cannot_start", what=str(exc)))
    done = "started" if action == "start" else "paused"
    return RedirectResponse(f"/console/journeys/{key}?done={done}", status_code=303)


@router.post("/journeys/{key}/start")
def journeys_start(request: Request, key: str) -> Response:
    return _change(request, key, "start")


@router.post("/journeys/{key}/pause")
def journeys_pause(request: Request, key: str) -> Response:
    return _change(request, key, "pause")
