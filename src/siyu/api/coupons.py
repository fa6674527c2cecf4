"""REST endpoints for coupons: campaigns (templates), codes, issue, validate, redeem, a contact's
coupons, the funnel, abuse signals and the expiry job. Thin: parse, call ``client.coupons``,
return its plain data (money as strings in yuan, times ISO 8601 UTC)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from siyu.api.deps import get_client
from siyu.coupons.schemas import TemplateIn, TemplatePatch

router = APIRouter(prefix="/api/v1/coupons", tags=["coupons"])


class CodesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: Annotated[int, Field(ge=1, le=1_000_000)]
    length: Annotated[int, Field(ge=6, le=32)] = 10


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csv: Annotated[str, Field(description="CSV text: a 'code' column, or codes in the first column")]


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str
    contact: Annotated[str, Field(description="id:N, a phone, an email or type:value")]
    external_id: Annotated[str | None, Field(max_length=200)] = None


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(max_length=200)]
    order_id: Annotated[str, Field(min_length=1, max_length=128)]
    source: Annotated[str, Field(min_length=1, max_length=64)] = "api"
    amount: Annotated[Decimal | None, Field(ge=0, le=Decimal("1000000000000"))] = None
    contact: str | None = None
    channel: str | None = None
    products: Annotated[list[str], Field(max_length=1000)] = []
    shipping: Annotated[Decimal | None, Field(ge=0, le=Decimal("1000000000000"))] = None
    device: Annotated[str | None, Field(max_length=128)] = None


@router.get("/templates", summary="The coupon campaigns (templates)")
def templates(request: Request, status: str | None = None) -> list[dict[str, Any]]:
    return get_client(request).coupons.templates(status=status)


@router.post("/templates", status_code=201, summary="Create a coupon campaign")
def create_template(body: TemplateIn, request: Request) -> dict[str, Any]:
    return get_client(request).coupons.create_template(**body.model_dump(exclude_unset=True))


@router.get("/templates/{key}", summary="One coupon campaign")
def template(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).coupons.template(key)


@router.patch("/templates/{key}", summary="Change the fields given (status pauses, resumes or ends it)")
def update_template(key: str, body: TemplatePatch, request: Request) -> dict[str, Any]:
    return get_client(request).coupons.update_template(key, **body.model_dump(exclude_unset=True))


@router.post("/templates/{key}/codes", status_code=201, summary="Generate unique unassigned codes")
def generate(key: str, body: CodesIn, request: Request) -> dict[str, Any]:
    made = get_client(request).coupons.generate(key, body.count, length=body.length)
    return {"count": len(made), "codes": made}


@router.post("/templates/{key}/codes/import", summary="Import codes from CSV text; bad rows reported")
def import_codes(key: str, body: ImportIn, request: Request) -> dict[str, Any]:
    return get_client(request).coupons.import_codes(key, body.csv)


@router.get("/templates/{key}/funnel", summary="Issued → redeemed, discount, GMV, incremental GMV")
def funnel(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).coupons.funnel(key)


@router.post("/issue", summary="Issue a coupon to a contact (idempotent by external_id)")
def issue(body: IssueIn, request: Request) -> dict[str, Any]:
    coupon = get_client(request).coupons.issue(
        body.template, body.contact, issued_by="api", external_id=body.external_id
    )
    return {"issued": coupon is not None, "coupon": coupon}


def _order(body: OrderIn) -> dict[str, Any]:
    return body.model_dump(exclude={"code"})


@router.post("/validate", summary="Would the code work on the order (ok, reason, discount); changes nothing")
def validate(body: OrderIn, request: Request) -> dict[str, Any]:
    fields = _order(body)
    fields.pop("device")
    return get_client(request).coupons.validate(body.code, **fields)


@router.post("/redeem", summary="Redeem the code on the order (idempotent by order; single use)")
def redeem(body: OrderIn, request: Request) -> dict[str, Any]:
    return get_client(request).coupons.redeem(body.code, **_order(body))


@router.get("/held/{query}", summary="The coupons a contact can use")
def held(query: str, request: Request) -> list[dict[str, Any]]:
    return get_client(request).coupons.held(query)


@router.get("/abuse", summary="Abuse signals (薅羊毛): flagged devices, contacts and templates")
def abuse(
    request: Request, days: int = 30, accounts: int = 3, burst: int = 10, burst_minutes: int = 60
) -> list[dict[str, Any]]:
    return get_client(request).coupons.abuse(
        days=min(max(days, 1), 3650),
        accounts=max(accounts, 2),
        burst=max(burst, 2),
        burst_minutes=max(burst_minutes, 1),
    )


@router.post("/expire", summary="Mark coupons past their end expired")
def expire(request: Request) -> dict[str, int]:
    return get_client(request).coupons.expire()
