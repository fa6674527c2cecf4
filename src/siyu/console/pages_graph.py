"""Console pages: the journey graph editor (every step kind — waits, wait-for-event with a
timeout branch, condition branches, A/B splits, sends, tags, webhooks — as cards in lanes, plus
trigger, goal and exit settings) and the version history (a past version's document and what
it changed). graph.js edits the same journey document the YAML path uses; the server validates
it with ``s.journeys.validate`` and saves with ``s.journeys.save_document`` (create, or a new
version under the rule in docs/journeys.md), answering every problem with its field, worded
here in the reader's language, so graph.js shows each one next to its step."""

from __future__ import annotations

import re
from typing import Any

import yaml
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.console.pages_sop import ERRORS as SOP_ERRORS
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT
from siyu.console.web import principal_of, render, user_language
from siyu.console.web import text as _t
from siyu.journeys.schemas import JourneyDefinitionError
from siyu.journeys.service import JourneyConflict, JourneyError

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/journeys/graph/new"): P.JOURNEYS_WRITE,
    ("POST", "/console/journeys/graph"): P.JOURNEYS_WRITE,
    ("GET", "/console/journeys/{key}/graph"): P.JOURNEYS_WRITE,
    ("GET", "/console/journeys/{key}/versions/{version}"): P.JOURNEYS_READ,
}
#: Messages of the journey language → the text key that words them (first match wins; the
#: timeline editor's patterns come after these).
ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"no step '(?P<name>[^']*)'"), "graph_err_no_step"),
    (re.compile(r"step ids must be unique: (?P<name>.*)"), "graph_err_duplicate"),
    (re.compile(r"exactly one (?:action|of).*\(got none\)"), "sop_err_required"),
    (re.compile(r"exactly one action"), "graph_err_one_action"),
    (re.compile(r"a condition has exactly one"), "graph_err_condition"),
    (re.compile(r"a trigger has exactly one"), "graph_err_trigger"),
    (re.compile(r"is not a duration|a duration lies between"), "graph_err_duration"),
    (re.compile(r"give either template or content"), "graph_err_template"),
    (re.compile(r"unknown channel"), "graph_err_channel"),
    (re.compile(r"greater than 0"), "graph_err_weight"),
    (re.compile(r"at least 2 items"), "graph_err_variants"),
    (re.compile(r"valid number|valid integer"), "graph_err_number"),
    (re.compile(r"no provider '(?P<name>[^']*)'"), "graph_err_provider"),
    (re.compile(r"reserved for leaving"), "graph_err_exit_id"),
    (re.compile(r"the document is for"), "graph_err_key_changed"),
    (re.compile(r"is archived"), "graph_err_archived"),
    (re.compile(r"should be (?:a valid dictionary|an object)|valid dictionary"), "graph_err_json"),
    (re.compile(r"Input should be '"), "graph_err_choice"),
    *SOP_ERRORS,
)
#: Who saved a version, when not a console user (``user:NAME``) or an API key (``key:PREFIX``).
ACTORS = ("cli", "python", "migration", "system", "api")


def word(
    request: Request, message: str, code: str | None = None, params: dict[str, Any] | None = None
) -> str:
    """A journey-language problem in the reader's language."""
    if code and f"journeys_error_{code}" in TEXT:
        return _t(request, f"journeys_error_{code}", **(params or {}))
    for pattern, key in ERRORS:
        m = pattern.search(message)
        if m:
            return _t(request, key, **m.groupdict())
    return _t(request, "sop_err_other")


def actor_text(request: Request, actor: str) -> str:
    """``user:alice`` → ``alice``; ``key:ab12`` → "API key ab12"; the CLI, Python API and the
    migration that started the history in the reader's language."""
    kind, _, name = actor.partition(":")
    if kind == "user" and name:
        return name
    if kind == "key" and name:
        return _t(request, "graph_actor_key", name=name)
    return _t(request, f"graph_actor_{kind}") if kind in ACTORS else actor


def change_lines(request: Request, changes: dict[str, list[str]], first: bool = False) -> list[str]:
    """A version's changes in the reader's words (step ids are the operator's own names)."""
    if first:
        return [_t(request, "graph_first", count=len(changes["added"]))]
    lines = [
        _t(request, f"graph_{kind}", ids="、".join(changes[kind]))
        for kind in ("added", "removed", "changed")
        if changes[kind]
    ]
    if changes["settings"]:
        names = [
            _t(request, f"graph_setting_{k}") if f"graph_setting_{k}" in TEXT else k
            for k in changes["settings"]
        ]
        lines.append(_t(request, "graph_settings", ids="、".join(names)))
    return lines or [_t(request, "graph_no_changes")]


def _js_text(request: Request) -> dict[str, str]:
    lang = user_language(request)
    keys = [k for k in TEXT if k.startswith("graph_") or k.startswith("sop_channel_")]
    keys += [k for k in TEXT if k.startswith("contacts_stage_")] + [
        "sop_choose",
        "sop_invalid",
        "sop_leaving",
    ]
    return {k: TEXT[k][lang if lang in ("zh", "en") else "zh"] for k in keys}


def _editor(request: Request, document: dict[str, Any] | None, key: str | None, live: bool) -> HTMLResponse:
    client = get_client(request)
    options = client.journeys.editor_options()
    options["channels"] = [c for c in options["channels"] if c != "wecom_tag"]  # tag sync: its own step
    return render(
        request,
        "journeys_graph.html",
        document=document,
        key=key,
        live=live,
        options=options,
        # the event pickers' suggestions read as the catalogue's titles (the value stays the name)
        event_titles=client.events.titles(options["events"], user_language(request)),
        js_text=_js_text(request),
    )


@router.get("/journeys/graph/new")
def graph_new(request: Request) -> HTMLResponse:
    return _editor(request, None, None, live=False)


@router.get("/journeys/{key}/graph")
def graph_edit(request: Request, key: str) -> HTMLResponse:
    journey = get_client(request).journeys.get(key)  # the 404 page when unknown
    return _editor(request, journey["definition"], key, live=journey["status"] == "active")


@router.post("/journeys/graph")
async def graph_save(request: Request) -> JSONResponse:
    """JSON ``{document, key, start, check}`` from graph.js: ``key`` is the journey being edited
    (none: a new one); with ``check`` only validates and says who would leave. Problems come
    back as ``[{path, message}]`` with ``path`` in the document (``steps[2].send.template``)."""
    body = await request.json()
    document = body.get("document") if isinstance(body, dict) else None
    if not isinstance(document, dict):
        message = _t(request, "graph_err_json")
        return JSONResponse({"ok": False, "errors": [{"path": "journey", "message": message}]}, 422)
    key = body.get("key") if isinstance(body.get("key"), str) and body.get("key") else None
    client = get_client(request)

    def located(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
        return [
            {"path": e["path"], "message": word(request, e["message"], e.get("code"), e.get("params"))}
            for e in errors
        ]

    checked = await run_in_threadpool(client.journeys.validate, document, key)
    if not checked["ok"]:
        return JSONResponse({"ok": False, "errors": located(checked["errors"])}, status_code=422)
    leaving = sum(checked.get("leaving", {}).values())
    if body.get("check"):
        return JSONResponse({"ok": True, "errors": [], "leaving": leaving})
    actor = principal_of(request).actor
    try:
        saved = await run_in_threadpool(
            client.journeys.save_document, document, key, bool(body.get("start")), actor
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


def versions_of(request: Request, key: str) -> list[dict[str, Any]]:
    """The journey page's history: each version with who saved it, in the reader's words."""
    rows = get_client(request).journeys.versions(key)
    for v in rows:
        v["who"] = actor_text(request, v["actor"])
        v["lines"] = change_lines(request, v["changes"], first=v["first"])
    return rows


@router.get("/journeys/{key}/versions/{version}")
def graph_version(request: Request, key: str, version: int) -> HTMLResponse:
    client = get_client(request)
    journey = client.journeys.get(key)
    data = client.journeys.version(key, version)  # the 404 page when there is no such version
    return render(
        request,
        "journeys_version.html",
        journey=journey,
        data=data,
        who=actor_text(request, data["actor"]),
        lines=change_lines(request, data["changes"], first=data["first"]),
        definition=yaml.safe_dump(data["definition"], allow_unicode=True, sort_keys=False),
    )
