"""Coupon templates (campaigns): create, change, pause, list. Every field is checked by
:class:`~siyu.coupons.schemas.TemplateIn`; a refused one raises :class:`CouponError` naming the
field, so the console and the CLI can say what is wrong and where."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.coupons.errors import CouponConflict, CouponError, CouponNotFound
from siyu.coupons.schemas import TemplateIn, TemplatePatch
from siyu.store.models.base import utcnow
from siyu.store.models.coupons import CouponTemplate

RULE_FIELDS = ("channels", "products", "per_customer")


def invalid(exc: ValidationError) -> CouponError:
    """The first problem of a refused template, with the field it concerns."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    if not loc and ": " in message:  # a rule across fields names its field first
        loc, message = message.split(": ", 1)
    return CouponError("invalid_template", f"{loc}: {message}" if loc else message, field=loc or None)


def template_fields(t: CouponTemplate) -> dict[str, Any]:
    """The template as :class:`TemplateIn` fields (rules flattened)."""
    rules = t.rules or {}
    return {
        "key": t.key,
        "name": t.name,
        "kind": t.kind,
        "amount": t.amount,
        "min_order": t.min_order,
        "max_discount": t.max_discount,
        "valid_from": t.valid_from,
        "valid_until": t.valid_until,
        "valid_days": t.valid_days,
        "channels": list(rules.get("channels") or []),
        "products": list(rules.get("products") or []),
        "per_customer": rules.get("per_customer"),
        "budget": t.budget,
        "issue_limit": t.issue_limit,
        "holdout_percent": t.holdout_percent,
        "refund_rule": t.refund_rule,
        "code_prefix": t.code_prefix,
        "status": t.status,
    }


def template_json(t: CouponTemplate) -> dict[str, Any]:
    """JSON-ready view (money as strings, so no yuan is lost to floats)."""
    out: dict[str, Any] = {}
    for name, value in {**template_fields(t), "spent": t.spent, "issued": t.issued}.items():
        if isinstance(value, Decimal):
            out[name] = str(value.quantize(Decimal("0.01")))
        elif isinstance(value, datetime):
            out[name] = value.astimezone(UTC).isoformat()
        else:
            out[name] = value
    return out


def _apply(t: CouponTemplate, spec: TemplateIn) -> None:
    data = spec.model_dump()
    t.rules = {k: data.pop(k) for k in RULE_FIELDS if data.get(k) not in (None, [])}
    for name in RULE_FIELDS:
        data.pop(name, None)
    for name, value in data.items():
        setattr(t, name, value)


class TemplateService:
    def __init__(self, session: Session, *, now: datetime | None = None) -> None:
        self.session = session
        self.now = now or utcnow()

    def get(self, key: str) -> CouponTemplate:
        t = self.session.scalar(select(CouponTemplate).where(CouponTemplate.key == key))
        if t is None:
            raise CouponNotFound("template_not_found", f"no coupon template {key!r}", field="template")
        return t

    def list(self, *, status: str | None = None) -> list[CouponTemplate]:
        q = select(CouponTemplate).order_by(CouponTemplate.created_at.desc(), CouponTemplate.id.desc())
        if status:
            q = q.where(CouponTemplate.status == status)
        return list(self.session.scalars(q))

    def create(self, data: dict[str, Any]) -> CouponTemplate:
        try:
            spec = TemplateIn.model_validate(data)
        except ValidationError as exc:
            raise invalid(exc) from None
        if self.session.scalar(select(CouponTemplate.id).where(CouponTemplate.key == spec.key)):
            raise CouponConflict("template_exists", f"coupon template {spec.key!r} exists", field="key")
        t = CouponTemplate(created_at=self.now, updated_at=self.now, spent=Decimal(0), issued=0)
        _apply(t, spec)
        self.session.add(t)
        self.session.flush()
        return t

    def update(self, key: str, changes: dict[str, Any]) -> CouponTemplate:
        """Changes the fields given; the merged template is checked whole. The kind of a template
        that already issued coupons is fixed: its coupons were promised as they were."""
        t = self.get(key)
        try:
            patch = TemplatePatch.model_validate(changes)
            merged = {**template_fields(t), **patch.model_dump(exclude_unset=True)}
            spec = TemplateIn.model_validate(merged)
        except ValidationError as exc:
            raise invalid(exc) from None
        if spec.kind != t.kind and t.issued:
            raise CouponError("kind_locked", "kind: the template has issued coupons", field="kind")
        _apply(t, spec)
        t.updated_at = self.now
        self.session.flush()
        return t

    def set_status(self, key: str, status: str) -> CouponTemplate:
        return self.update(key, {"status": status})
