"""REST endpoints for journeys, channel providers, provider callbacks and email unsubscribe.
Thin: parse, call the Python API or a capability, return plain data."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from siyu.api.deps import get_client, unit_of_work
from siyu.channels.base import Inbound, Receipt
from siyu.channels.email import verify_unsubscribe_token
from siyu.channels.inbound import callback_parser, record_inbound, record_receipts
from siyu.channels.providers import ProviderService
from siyu.consent.service import ConsentService

router = APIRouter(prefix="/api/v1")
public_router = APIRouter()


class EnrolIn(BaseModel):
    contacts: list[int | str] = Field(min_length=1, max_length=100_000)
    label: str = Field(default="api", max_length=200)


class ProviderIn(BaseModel):
    key: str
    kind: str
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, Any] = Field(default_factory=dict)
    default: bool = False


@router.get("/journeys", tags=["journeys"], summary="Every journey with its state")
def journeys_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).journeys.list()


@router.post("/journeys", tags=["journeys"], status_code=201, summary="Create a journey (draft)")
def journeys_create(body: dict[str, Any], request: Request) -> dict[str, Any]:
    # Validated by the journey language itself, so errors name the field (422 with `path`).
    return get_client(request).journeys.create(body, actor="api")


@router.get("/journeys/{key}", tags=["journeys"], summary="A journey and its definition")
def journeys_get(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.get(key)


@router.put("/journeys/{key}", tags=["journeys"], summary="Replace a paused or draft journey's definition")
def journeys_update(key: str, body: dict[str, Any], request: Request) -> dict[str, Any]:
    return get_client(request).journeys.update(key, body, actor="api")


@router.post("/journeys/{key}/start", tags=["journeys"], summary="Start or resume a journey")
def journeys_start(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.start(key, actor="api")


@router.post("/journeys/{key}/pause", tags=["journeys"], summary="Pause a journey")
def journeys_pause(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.pause(key, actor="api")


@router.post("/journeys/{key}/archive", tags=["journeys"], summary="Archive a journey")
def journeys_archive(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.archive(key, actor="api")


@router.get("/journeys/{key}/stats", tags=["journeys"], summary="Per-step and per-variant report")
def journeys_stats(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.stats(key)


@router.get("/journeys/{key}/steps", tags=["journeys"], summary="The step graph")
def journeys_steps(key: str, request: Request) -> list[dict[str, Any]]:
    return get_client(request).journeys.steps(key)


@router.post(
    "/journeys/{key}/enrol", tags=["journeys"], summary="Enrol contacts (ids or phone/email queries)"
)
def journeys_enrol(key: str, body: EnrolIn, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.enrol(key, body.contacts, label=body.label)


@router.get("/providers", tags=["providers"], summary="Provider accounts (secrets never shown)")
def providers_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).providers.list()


@router.post("/providers", tags=["providers"], status_code=201, summary="Add a provider account")
def providers_create(body: ProviderIn, request: Request) -> dict[str, Any]:
    return get_client(request).providers.add(
        body.key, body.kind, body.config, body.secrets, body.default, actor="api"
    )


@router.delete("/providers/{key}", tags=["providers"], status_code=204, summary="Delete a provider account")
def providers_delete(key: str, request: Request) -> None:
    get_client(request).providers.delete(key, actor="api")


@router.post(
    "/providers/{key}/callbacks/{kind}",
    tags=["providers"],
    summary="Delivery receipts (kind=receipts) or inbound messages (kind=inbound) pushed by a provider",
)
async def providers_callback(key: str, kind: str, request: Request, token: str = "") -> dict[str, Any]:
    body = await request.body()
    client = get_client(request)
    with unit_of_work(request) as s:
        providers = ProviderService(s, client.ctx.keyring)
        row = providers.get(key)
        if not hmac.compare_digest(token.encode(), providers.callback_token(key).encode()):
            raise HTTPException(403, "bad callback token")
        parse = callback_parser(row.kind, kind)
        if parse is None:
            raise HTTPException(404, f"{row.kind} has no {kind} callback")
        try:
            items = list(parse(body))
        except ValueError as exc:
            raise HTTPException(422, f"unreadable {kind} body: {exc}") from exc
        receipts = [i for i in items if isinstance(i, Receipt)]
        inbound = [i for i in items if isinstance(i, Inbound)]
        r1 = record_receipts(s, receipts)
        r2 = record_inbound(s, client.ctx.profiles(s), client.ctx.parser, inbound)
        return {
            "received": r1.received + r2.received,
            "matched": r1.matched + r2.matched,
            "unknown": r1.unknown + r2.unknown,
            "unsubscribed": r2.unsubscribed,
        }


_UNSUBSCRIBED = """<!doctype html><meta charset="utf-8"><title>退订 Unsubscribed</title>
<p>您已退订营销邮件。You have been unsubscribed from marketing email.</p>"""


@public_router.api_route("/u/{token}", methods=["GET", "POST"], include_in_schema=False)
def unsubscribe(token: str, request: Request) -> HTMLResponse:
    """One-click email unsubscribe (RFC 8058 POST, or a click): revokes marketing consent for
    email. The token is an HMAC made with one of the SMTP providers' unsubscribe secrets."""
    client = get_client(request)
    with unit_of_work(request) as s:
        providers = ProviderService(s, client.ctx.keyring)
        for row in providers.session.scalars(_smtp_rows()):
            secret = providers.secrets(row).get("unsubscribe_secret")
            cid = verify_unsubscribe_token(token, str(secret).encode()) if secret else None
            if cid is not None:
                # the token names the contact the email went to; it may have merged since
                survivor = client.ctx.profiles(s).repo.survivor_of(cid)
                if survivor is None:
                    break
                ConsentService(s).record(survivor, "marketing", "email", False, source="email_unsubscribe")
                return HTMLResponse(_UNSUBSCRIBED)
    raise HTTPException(404, "unknown unsubscribe link")


def _smtp_rows() -> Any:
    from sqlalchemy import select

    from siyu.store.models import ChannelProvider

    return select(ChannelProvider).where(ChannelProvider.kind == "smtp")
