"""Console pages: the settings index, channels and entry codes (活码) with their QR codes, and
provider accounts. Users, roles, API keys and the audit log are in ``pages_access``.

Forms post back here; a refused form is drawn again with the field named and what was typed
kept (HTTP 422/409, so the write is not logged as done), a successful one redirects (303) so a
reload does not submit twice.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.channels.base import PROVIDER_KINDS
from siyu.channels.providers import ProviderError, adapter_class
from siyu.console.permissions import RouteTable
from siyu.console.texts.provider_fields import PROVIDER_FIELDS_ZH
from siyu.console.web import PageError, principal_of, render, text, user_language
from siyu.sources import qr
from siyu.sources.reach import Reach, channel_reach, entry_code_reach
from siyu.sources.schemas import ChannelCreate, EntryCodeCreate
from siyu.sources.service import SourceError, SourcesService
from siyu.store.models import CHANNEL_KINDS
from siyu.wecom.ways import link_url

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/settings"): P.CHANNELS_READ,
    ("GET", "/console/settings/channels"): P.CHANNELS_READ,
    ("POST", "/console/settings/channels"): P.CHANNELS_MANAGE,
    ("POST", "/console/settings/entry-codes"): P.CHANNELS_MANAGE,
    ("GET", "/console/settings/entry-codes/{code_id}/qr.svg"): P.CHANNELS_READ,
    ("GET", "/console/settings/providers"): P.PROVIDERS_MANAGE,
    ("POST", "/console/settings/providers"): P.PROVIDERS_MANAGE,
    ("POST", "/console/settings/providers/{key}/delete"): P.PROVIDERS_MANAGE,
}

#: The settings pages, in the order the index lists them: (text key, path, permission).
SECTIONS: tuple[tuple[str, str, P], ...] = (
    ("settings_channels", "/console/settings/channels", P.CHANNELS_READ),
    ("settings_providers", "/console/settings/providers", P.PROVIDERS_MANAGE),
    ("settings_users", "/console/settings/users", P.USERS_MANAGE),
    ("settings_roles", "/console/settings/roles", P.USERS_MANAGE),
    ("settings_api_keys", "/console/settings/api-keys", P.KEYS_MANAGE),
    ("settings_audit", "/console/settings/audit", P.AUDIT_READ),
    ("settings_retention", "/console/settings/retention", P.RETENTION_MANAGE),
    ("settings_events", "/console/settings/events", P.ANALYTICS_READ),
    ("settings_brand", "/console/settings/brand", P.CHANNELS_READ),
    ("settings_wecom", "/console/settings/wecom", P.PROVIDERS_MANAGE),
)


def _t(request: Request) -> Any:
    """A translator bound to this request's user."""
    return partial(text, request)


def _form(raw: Any, *names: str) -> dict[str, str]:
    return {n: str(raw.get(n) or "").strip() for n in names}


@router.get("/settings")
def settings_index(request: Request) -> HTMLResponse:
    principal = principal_of(request)
    sections = [(key, path) for key, path, perm in SECTIONS if principal.can(perm)]
    return render(request, "settings.html", sections=sections)


# --- channels and entry codes --------------------------------------------------------------------
def _landing(request: Request, given: str | None) -> tuple[str, str | None]:
    """The landing page the QR codes open: the one asked for, else PUBLIC_URL."""
    default = get_client(request).ctx.settings.public_url
    if not given:
        return default, None
    try:
        qr.entry_url(given, "x")
    except qr.QrError:
        return default, _t(request)("settings_landing_invalid")
    return given.strip(), None


def _channels_page(
    request: Request,
    status: int = 200,
    landing: str | None = None,
    flash: str | None = None,
    error: str | None = None,
    **forms: Any,
) -> HTMLResponse:
    landing_url, landing_error = _landing(request, landing)
    with unit_of_work(request) as session:
        service = SourcesService(session)
        channels, codes = service.channels(), service.entry_codes()
        by_channel, by_code = channel_reach(session), entry_code_reach(session)
        keys = {c.id: c for c in channels}
        channel_rows = [
            {
                "id": c.id,
                "key": c.key,
                "name": c.name,
                "kind": c.kind,
                "created_at": c.created_at,
                "reach": by_channel.get(c.id, Reach()),
            }
            for c in channels
        ]
        code_rows = [
            {
                "id": e.id,
                "state": e.state,
                "name": e.name,
                "campaign": e.campaign,
                "channel": keys[e.channel_id].key,
                "channel_name": keys[e.channel_id].name,
                "url": qr.entry_url(landing_url, e.state),
                "reach": by_code.get(e.id, Reach()),
                # WeCom codes show WeCom's own QR / link: our landing-page QR would not add anyone.
                "kind": e.kind,
                "wecom_qr": e.qr_code if e.kind == "contact_way" else None,
                "wecom_url": link_url(e),
            }
            for e in codes
        ]
    return render(
        request,
        "settings_channels.html",
        status=status,
        channels=channel_rows,
        codes=code_rows,
        kinds=CHANNEL_KINDS,
        landing=landing_url,
        landing_custom=bool(landing) and landing_error is None,
        landing_q=quote(landing_url, safe="") if landing and landing_error is None else "",
        flash=flash,
        error=error or landing_error,
        channel_form=forms.get("channel_form", {}),
        code_form=forms.get("code_form", {}),
        error_field=forms.get("error_field"),
    )


@router.get("/settings/channels")
def channels_page(request: Request, landing: str = "", created: str = "") -> HTMLResponse:
    flash = _t(request)("settings_created", what=created) if created else None
    return _channels_page(request, landing=landing or None, flash=flash)


def _field_error(
    request: Request, exc: ValidationError, labels: dict[str, tuple[str, str]]
) -> tuple[str, str]:
    """(field, message) for the first invalid field, in the user's language."""
    t = _t(request)
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    label, hint = labels.get(field, ("invalid_input", ""))
    detail = str(first.get("msg", "")).removeprefix("Value error, ")
    return field, t("settings_field_error", field=t(label), hint=t(hint) if hint else "", detail=detail)


@router.post("/settings/channels")
async def create_channel(request: Request) -> Response:
    principal = principal_of(request)
    form = _form(await request.form(), "key", "name", "kind", "landing")
    labels = {
        "key": ("settings_key", "settings_channel_key_hint"),
        "name": ("settings_name", ""),
        "kind": ("settings_kind", ""),
    }
    try:
        data = ChannelCreate(key=form["key"], name=form["name"], kind=form["kind"])
    except ValidationError as exc:
        field, message = _field_error(request, exc, labels)
        return _channels_page(
            request, 422, form["landing"], error=message, channel_form=form, error_field=field
        )
    try:
        with unit_of_work(request) as session:
            SourcesService(session).create_channel(data, actor=principal.actor)
    except SourceError:  # the only refusal left after validation: the key is taken
        message = _t(request)("settings_channel_exists", slug=data.key)
        return _channels_page(
            request, 409, form["landing"], error=message, channel_form=form, error_field="key"
        )
    landing = f"&landing={quote(form['landing'], safe='')}" if form["landing"] else ""
    return RedirectResponse(f"/console/settings/channels?created={quote(data.key)}{landing}", status_code=303)


@router.post("/settings/entry-codes")
async def create_entry_code(request: Request) -> Response:
    principal = principal_of(request)
    form = _form(await request.form(), "channel", "state", "name", "campaign", "landing")
    labels = {
        "channel": ("settings_channel", ""),
        "state": ("settings_state", "settings_state_hint"),
        "name": ("settings_name", ""),
    }
    try:
        data = EntryCodeCreate(
            channel=form["channel"], state=form["state"], name=form["name"], campaign=form["campaign"] or None
        )
    except ValidationError as exc:
        field, message = _field_error(request, exc, labels)
        return _channels_page(request, 422, form["landing"], error=message, code_form=form, error_field=field)
    try:
        with unit_of_work(request) as session:
            SourcesService(session).create_entry_code(data, actor=principal.actor)
    except SourceError as exc:
        t = _t(request)
        taken = "state" in str(exc)
        message = (
            t("settings_state_exists", state=data.state)
            if taken
            else t("settings_channel_missing", slug=data.channel)
        )
        field = "state" if taken else "channel"
        return _channels_page(request, 409, form["landing"], error=message, code_form=form, error_field=field)
    landing = f"&landing={quote(form['landing'], safe='')}" if form["landing"] else ""
    return RedirectResponse(
        f"/console/settings/channels?created={quote(data.state)}{landing}#code-{quote(data.state)}",
        status_code=303,
    )


@router.get("/settings/entry-codes/{code_id}/qr.svg")
def entry_code_qr(request: Request, code_id: int, landing: str = "") -> Response:
    landing_url, problem = _landing(request, landing or None)
    if problem:
        raise PageError(422, "invalid_input", {"what": problem})
    with unit_of_work(request) as session:
        code = qr.entry_code(session, code_id)
        if code is None:
            raise PageError(404, "not_found", {"what": f"entry code {code_id}"})
        state = code.state
    svg = qr.qr_svg(qr.entry_url(landing_url, state))
    # Inline so it shows in the page; a download link adds the download attribute instead.
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={
            "Content-Disposition": f'inline; filename="entry-code-{state}.svg"',
            "Cache-Control": "private",
        },
    )


# --- providers ---------------------------------------------------------------------------------
def field_docs(lang: str) -> dict[str, dict[str, dict[str, str]]]:
    """What each provider kind needs: the adapters' own documentation of their fields, in
    Chinese from ``texts.provider_fields`` for a Chinese reader."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for kind in PROVIDER_KINDS:
        cls = adapter_class(kind)
        zh = PROVIDER_FIELDS_ZH.get(kind, {}) if lang == "zh" else {}
        out[kind] = {
            part: {name: zh.get(name, doc) for name, doc in fields.items()}
            for part, fields in (("config", cls.CONFIG_FIELDS), ("secrets", cls.SECRET_FIELDS))
        }
    return out


def _providers_page(
    request: Request, status: int = 200, flash: str | None = None, error: str | None = None, **forms: Any
) -> HTMLResponse:
    rows = get_client(request).providers.list()
    for row in rows:
        row["other_config"] = {k: v for k, v in row["config"].items() if k != "base_url"}
    return render(
        request,
        "settings_providers.html",
        status=status,
        providers=rows,
        kinds=list(PROVIDER_KINDS),
        docs=field_docs(user_language(request)),
        flash=flash,
        error=error,
        form=forms.get("form", {}),
        error_field=forms.get("error_field"),
    )


@router.get("/settings/providers")
def providers_page(request: Request, created: str = "", deleted: str = "") -> HTMLResponse:
    t = _t(request)
    flash = t("settings_created", what=created) if created else None
    if deleted:
        flash = t("settings_provider_deleted", slug=deleted)
    return _providers_page(request, flash=flash)


def _json_object(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@router.post("/settings/providers")
async def create_provider(request: Request) -> Response:
    principal = principal_of(request)
    raw = await request.form()
    form = _form(raw, "key", "kind", "base_url", "config", "default")
    secrets_text = str(raw.get("secrets") or "")  # never echoed back into the page
    t = _t(request)
    config, secrets = _json_object(form["config"]), _json_object(secrets_text)
    for name, value, label in (
        ("config", config, "settings_config_json"),
        ("secrets", secrets, "settings_secrets_json"),
    ):
        if value is None:
            message = t("settings_json_invalid", field=t(label))
            return _providers_page(request, 422, error=message, form=form, error_field=name)
    assert config is not None and secrets is not None
    if form["base_url"]:
        config["base_url"] = form["base_url"]
    try:
        get_client(request).providers.add(
            form["key"], form["kind"], config, secrets, bool(form["default"]), actor=principal.actor
        )
    except ProviderError as exc:
        field = str(exc).split(":", 1)[0].split(".")[0]
        if str(exc).startswith("config.base_url"):
            field = "base_url"
        message = t("settings_provider_error", detail=str(exc))
        status = 409 if "already exists" in str(exc) else 422
        return _providers_page(request, status, error=message, form=form, error_field=field)
    return RedirectResponse(f"/console/settings/providers?created={quote(form['key'])}", status_code=303)


@router.post("/settings/providers/{key}/delete")
def delete_provider(request: Request, key: str) -> Response:
    get_client(request).providers.delete(key, actor=principal_of(request).actor)
    return RedirectResponse(f"/console/settings/providers?deleted={quote(key)}", status_code=303)
