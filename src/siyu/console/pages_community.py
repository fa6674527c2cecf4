"""Console pages: customer groups (客户群) with the brand-wide pyramid, one group's members and
health chart, and group live codes (群活码).

Actions (sync, rank, create a code, swap now) post back and redirect (303) with a notice; a
refused input or a WeCom error becomes the console's error page in the user's language (the
API's status mapping, see console/app.py)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import tr
from siyu.console.web import language, principal_of, render

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/groups"): P.CONTACTS_READ,
    ("POST", "/console/groups/sync"): P.CHANNELS_MANAGE,
    ("POST", "/console/groups/rank"): P.CONTACTS_WRITE,
    ("GET", "/console/groups/join-ways"): P.CHANNELS_READ,
    ("POST", "/console/groups/join-ways"): P.CHANNELS_MANAGE,
    ("POST", "/console/groups/join-ways/swap"): P.CHANNELS_MANAGE,
    ("POST", "/console/groups/sops"): P.JOURNEYS_WRITE,
    ("POST", "/console/groups/sops/{key}/pause"): P.JOURNEYS_WRITE,
    ("POST", "/console/groups/sops/{key}/resume"): P.JOURNEYS_WRITE,
    ("GET", "/console/groups/{chat_id}"): P.CONTACTS_READ,
}
#: Step rows the group SOP form offers (blank rows are left out).
SOP_ROWS = 5
ROLES = ("seed", "koc", "member")
#: Chart layout shared with the dashboard's look: compact, legend on top.
LAYOUT: dict[str, Any] = {
    "margin": {"l": 48, "r": 16, "t": 8, "b": 32},
    "height": 300,
    "legend": {"orientation": "h", "y": 1.12},
    "paper_bgcolor": "rgba(0,0,0,0)",
}


#: Notices an action's redirect may ask for, with their (whole-number) parameters: the text is
#: built here, never taken from the query string.
NOTICES = {
    "groups_synced": ("groups", "joined", "left"),
    "pyramid_ranked": ("n",),
    "join_ways_swapped": ("n",),
    "join_ways_created": (),
    "gsop_created": (),
    "gsop_paused": (),
    "gsop_resumed": (),
}


def _lang(request: Request) -> str:
    return language(request, getattr(request.state, "principal", None))


def _notice(request: Request) -> str:
    key = request.query_params.get("done", "")
    if key not in NOTICES:
        return ""
    params: dict[str, Any] = {}
    for name in NOTICES[key]:
        raw = request.query_params.get(name, "0")
        params[name] = int(raw) if raw.isdigit() else 0
    return tr(key, _lang(request), **params)


def _done(path: str, key: str, **params: int) -> RedirectResponse:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return RedirectResponse(f"{path}?done={key}" + (f"&{query}" if query else ""), status_code=303)


def pyramid_chart(summary: dict[str, int], lang: str) -> str | None:
    """The pyramid as a funnel: seeds on top, members at the base."""
    if not any(summary.values()):
        return None
    fig = go.Figure(
        go.Funnel(
            y=[tr(f"role_{r}", lang) for r in ROLES],
            x=[summary[r] for r in ROLES],
            textinfo="value+percent total",
            marker={"color": ["#c0392b", "#e67e22", "#95a5a6"]},
        )
    )
    fig.update_layout(**LAYOUT)
    return fig.to_json()  # type: ignore[no-any-return]


def health_chart(series: list[dict[str, Any]], lang: str) -> str:
    fig = go.Figure()
    days = [p["day"] for p in series]
    fig.add_scatter(name=tr("groups_chart_members", lang), x=days, y=[p["members"] for p in series])
    fig.add_bar(name=tr("groups_chart_messages", lang), x=days, y=[p["messages"] for p in series], yaxis="y2")
    fig.update_layout(**LAYOUT, yaxis2={"overlaying": "y", "side": "right", "showgrid": False})
    return fig.to_json()  # type: ignore[no-any-return]


@router.get("/groups")
def groups_page(request: Request) -> HTMLResponse:
    client = get_client(request)
    lang = _lang(request)
    pyramid = client.community.pyramid()
    return render(
        request,
        "groups.html",
        groups=client.community.groups(),
        summary=pyramid["summary"],
        roles=ROLES,
        chart=pyramid_chart(pyramid["summary"], lang),
        sops=client.community.sops(),
        ways=client.community.join_ways(),
        sop_rows=range(SOP_ROWS),
        notice=_notice(request),
    )


def _int(value: Any, where: str, default: int | None = None) -> int | None:
    """A whole number from a form field, or a refusal naming the field (never a 500)."""
    from siyu.community.wecom import CommunityError

    text = str(value or "").strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 6:
        raise CommunityError(f"{where}: a whole number, got {text[:20]!r}")
    return int(text)


def sop_steps(form: Any, trigger: str) -> list[dict[str, Any]]:
    """The step rows of the group SOP form: a row counts once its text is filled in."""
    steps: list[dict[str, Any]] = []
    for i in range(SOP_ROWS):
        text = str(form.get(f"text_{i}") or "").strip()
        if not text:
            continue
        step: dict[str, Any] = {"at": str(form.get(f"at_{i}") or "").strip(), "text": text}
        where = f"steps[{len(steps)}]"
        if trigger == "schedule":
            step["every"] = str(form.get(f"every_{i}") or "day")
            if step["every"] == "week":
                step["weekday"] = _int(form.get(f"weekday_{i}"), f"{where}.weekday", 1)
        else:
            step["day"] = _int(form.get(f"day_{i}"), f"{where}.day", 0)
        steps.append(step)
    return steps


@router.post("/groups/sops")
async def group_sop_create(request: Request) -> RedirectResponse:
    """A group SOP from the form: name, trigger (with its live code), up to five step rows.
    The key is made here: operators name plans, they do not invent identifiers."""
    import secrets

    form = await request.form()
    trigger = str(form.get("trigger") or "")
    spec = {
        "key": f"gsop-{secrets.token_hex(4)}",
        "name": str(form.get("name") or "").strip()[:200],
        "trigger": trigger,
        "state": str(form.get("state") or "").strip() or None,
        "steps": sop_steps(form, trigger),
    }
    get_client(request).community.create_sop(spec, actor=principal_of(request).username)
    return _done("/console/groups", "gsop_created")


@router.post("/groups/sops/{key}/pause")
def group_sop_pause(request: Request, key: str) -> RedirectResponse:
    get_client(request).community.pause_sop(key, actor=principal_of(request).username)
    return _done("/console/groups", "gsop_paused")


@router.post("/groups/sops/{key}/resume")
def group_sop_resume(request: Request, key: str) -> RedirectResponse:
    get_client(request).community.resume_sop(key, actor=principal_of(request).username)
    return _done("/console/groups", "gsop_resumed")


@router.post("/groups/sync")
def groups_sync(request: Request) -> RedirectResponse:
    result = get_client(request).community.sync()
    return _done(
        "/console/groups", "groups_synced", **{k: int(result[k]) for k in ("groups", "joined", "left")}
    )


@router.post("/groups/rank")
def groups_rank(request: Request) -> RedirectResponse:
    result = get_client(request).community.rank()
    return _done("/console/groups", "pyramid_ranked", n=int(result["ranked"]))


@router.get("/groups/join-ways")
def join_ways_page(request: Request) -> HTMLResponse:
    client = get_client(request)
    ways = client.community.join_ways()
    groups = client.community.groups()  # open groups, largest first
    # groups by name, never by WeCom's chat id (including groups a code lists that are gone)
    names = {g["chat_id"]: g["name"] for g in client.community.groups(include_dismissed=True)}
    return render(
        request, "groups_join_ways.html", ways=ways, groups=groups, names=names, notice=_notice(request)
    )


@router.post("/groups/join-ways")
async def join_ways_create(request: Request) -> RedirectResponse:
    form = await request.form()
    # ticked groups (the picker), or chat ids typed one a line (groups not synced yet)
    typed = [c.strip() for c in str(form.get("chat_ids") or "").splitlines() if c.strip()]
    chat_ids = list(dict.fromkeys([str(c) for c in form.getlist("chat_id")] + typed))
    state = str(form.get("state") or "").strip()
    actor = principal_of(request).username
    get_client(request).community.create_join_way(
        str(form.get("name") or "").strip() or state,
        state,
        chat_ids,
        room_base_name=str(form.get("room_base_name") or "").strip() or None,
        swap_threshold=_int(form.get("swap_threshold"), "swap_threshold", 480),
        actor=actor,
    )
    return _done("/console/groups/join-ways", "join_ways_created")


@router.post("/groups/join-ways/swap")
def join_ways_swap(request: Request) -> RedirectResponse:
    changed = get_client(request).community.swap_full()
    return _done("/console/groups/join-ways", "join_ways_swapped", n=len(changed))


@router.get("/groups/{chat_id}")
def group_page(request: Request, chat_id: str) -> HTMLResponse:
    client = get_client(request)
    group = client.community.group(chat_id)
    has_messages = any(p["messages"] for p in group["series"])
    return render(
        request,
        "groups_detail.html",
        g=group,
        chart=health_chart(group["series"], _lang(request)),
        has_messages=has_messages,
    )
