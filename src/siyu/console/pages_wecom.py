"""Console page: WeCom callbacks (设置 → 企业微信回调) — the URL to paste into WeCom's admin for
each WeCom provider, whether its Token and EncodingAESKey are set, the inbox's counts and
recent callbacks with their state; failed ones can be processed again."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.web import render, text
from siyu.wecom.callbacks.inbox import STATUSES, InboxError

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/settings/wecom"): P.PROVIDERS_MANAGE,
    ("POST", "/console/settings/wecom/callbacks/{callback_id}/retry"): P.PROVIDERS_MANAGE,
    ("POST", "/console/settings/wecom/retry-failed"): P.PROVIDERS_MANAGE,
}


@router.get("/settings/wecom")
def wecom_page(request: Request, status: str = "", retried: int = -1) -> HTMLResponse:
    client = get_client(request)
    chosen = status if status in STATUSES else None
    providers = [
        client.wecom_callbacks.setup(p["key"], str(request.base_url).rstrip("/"))
        for p in client.providers.list()
        if p["kind"] == "wecom"
    ]
    return render(
        request,
        "settings_wecom.html",
        providers=providers,
        counts=client.wecom_callbacks.counts(),
        callbacks=client.wecom_callbacks.list(status=chosen, limit=100),
        statuses=STATUSES,
        chosen=chosen or "",
        flash=text(request, "wecom_retried", n=retried) if retried >= 0 else "",
    )


@router.post("/settings/wecom/callbacks/{callback_id}/retry")
def wecom_retry(callback_id: int, request: Request) -> Response:
    try:
        result = get_client(request).wecom_callbacks.retry(callback_id)
    except InboxError as exc:
        return render(request, "error.html", status=409, message=str(exc))
    return RedirectResponse(f"/console/settings/wecom?retried={result['queued']}", status_code=303)


@router.post("/settings/wecom/retry-failed")
def wecom_retry_failed(request: Request) -> Response:
    result = get_client(request).wecom_callbacks.retry(None)
    return RedirectResponse(f"/console/settings/wecom?retried={result['queued']}", status_code=303)
