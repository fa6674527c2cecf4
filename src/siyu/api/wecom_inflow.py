"""REST for the WeCom inflow: the callback receiver (authenticated by WeCom's signature, not an
API key: see the PUBLIC entries in api/permissions.py), the callback inbox and corp tags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse

from siyu.api.deps import get_client
from siyu.wecom.callbacks.inbox import InboxError
from siyu.wecom.callbacks.receiver import MAX_BODY_BYTES, CallbackReceiver, CallbackRejected

router = APIRouter(prefix="/api/v1")
#: The receiver: authenticated by WeCom's signature (PUBLIC in api/permissions.py), so it is
#: mounted without the API-key dependency, which as a sync dependency would cost a thread-pool
#: hop on every callback.
callback_router = APIRouter(prefix="/api/v1")


def receiver(request: Request) -> CallbackReceiver:
    state = request.app.state
    found = getattr(state, "wecom_receiver", None)
    if found is None:
        found = state.wecom_receiver = CallbackReceiver(get_client(request).ctx)
    return found  # type: ignore[no-any-return]


async def _body(request: Request) -> bytes:
    """The body, refused past the cap without reading more (a callback is a few hundred bytes)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body: larger than {MAX_BODY_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body: larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@callback_router.get(
    "/providers/{key}/callbacks/events",
    tags=["wecom"],
    summary="WeCom's URL check: answers the decrypted echostr in plain text",
    response_class=PlainTextResponse,
)
def wecom_url_check(
    key: str,
    request: Request,
    msg_signature: str = "",
    timestamp: str = "",
    nonce: str = "",
    echostr: str = "",
) -> PlainTextResponse:
    try:
        return PlainTextResponse(receiver(request).check_url(key, msg_signature, timestamp, nonce, echostr))
    except CallbackRejected as exc:
        raise HTTPException(exc.status, exc.reason) from None


@callback_router.post(
    "/providers/{key}/callbacks/events",
    tags=["wecom"],
    summary="WeCom event callbacks (encrypted XML): stored durably, answered `success`, then processed",
    response_class=PlainTextResponse,
)
async def wecom_events(
    key: str, request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = ""
) -> PlainTextResponse:
    body = await _body(request)
    try:
        await receiver(request).receive(key, msg_signature, timestamp, nonce, body)
    except CallbackRejected as exc:
        raise HTTPException(exc.status, exc.reason) from None
    return PlainTextResponse("success")


@router.get(
    "/wecom/callbacks", tags=["wecom"], summary="Received WeCom callbacks, newest first, with their state"
)
def wecom_callbacks(
    request: Request, status: str | None = None, provider: str | None = None, limit: int = 50
) -> dict[str, Any]:
    client = get_client(request).wecom_callbacks
    try:
        return {"counts": client.counts(), "callbacks": client.list(status, provider, limit)}
    except InboxError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post(
    "/wecom/callbacks/{callback_id}/retry",
    tags=["wecom"],
    summary="Queue a failed or unhandled callback again and process it",
)
def wecom_callback_retry(callback_id: int, request: Request) -> dict[str, Any]:
    try:
        return get_client(request).wecom_callbacks.retry(callback_id)
    except InboxError as exc:
        raise HTTPException(404 if "no callback" in str(exc) else 409, str(exc)) from None


@router.get("/wecom/corp-tags", tags=["wecom"], summary="WeCom corp tags and the siyu tags they map to")
def wecom_corp_tags(request: Request, provider: str | None = None) -> list[dict[str, Any]]:
    return get_client(request).corp_tags.list(provider)


@router.post(
    "/wecom/corp-tags/sync",
    tags=["wecom"],
    summary="Full sync of a WeCom provider's corp tags into siyu tags",
)
def wecom_corp_tags_sync(request: Request, provider: str | None = None) -> dict[str, int]:
    return get_client(request).corp_tags.sync(provider)
