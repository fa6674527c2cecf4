"""What a coupon template (campaign) may say, checked field by field so a bad form or CLI call
is told which field is wrong and why. Money is yuan with at most two decimals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

KINDS = ("fixed", "percent", "threshold", "free_shipping")
STATUSES = ("active", "paused", "ended")
REFUND_RULES = ("restore", "void")

Money = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000"), max_digits=12, decimal_places=2)]
Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
Item = Annotated[str, Field(max_length=128)]  # blanks are dropped


class TemplateIn(BaseModel):
    """A whole template, as created (and as an update is re-checked after merging)."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["fixed", "percent", "threshold", "free_shipping"]
    amount: Money = Decimal(0)
    min_order: Money = Decimal(0)
    max_discount: Money | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    channels: Annotated[list[Item], Field(max_length=100)] = []
    products: Annotated[list[Item], Field(max_length=10_000)] = []
    per_customer: Annotated[int, Field(ge=1, le=1000)] | None = None
    budget: Money | None = None
    issue_limit: Annotated[int, Field(ge=1, le=100_000_000)] | None = None
    holdout_percent: Annotated[int, Field(ge=0, le=90)] = 0
    refund_rule: Literal["restore", "void"] = "restore"
    code_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{0,12}$")] = ""
    status: Literal["active", "paused", "ended"] = "active"

    @field_validator("valid_from", "valid_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone")
        return value

    @field_validator("channels", "products")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip() for v in value if v.strip()))

    @field_validator("code_prefix")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _coherent(self) -> TemplateIn:
        if self.kind == "fixed" and self.amount <= 0:
            raise ValueError("amount: a fixed coupon needs an amount above 0")
        if self.kind == "percent" and not 0 < self.amount < 100:
            raise ValueError("amount: a percent coupon takes off between 0 and 100 (exclusive)")
        if self.kind == "threshold":
            if self.amount <= 0:
                raise ValueError("amount: a threshold coupon needs an amount above 0")
            if self.min_order <= self.amount:
                raise ValueError("min_order: a threshold coupon needs a minimum order above its amount")
        if self.max_discount is not None and self.max_discount <= 0:
            raise ValueError("max_discount: must be above 0")
        if self.valid_until is None and self.valid_days is None:
            raise ValueError("valid_until: give an end date or a number of days after issue")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValueError("valid_until: must be after valid_from")
        return self


class TemplatePatch(BaseModel):
    """An update: only the fields given change (``null`` clears an optional one)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    kind: str | None = None
    amount: Decimal | None = None
    min_order: Decimal | None = None
    max_discount: Decimal | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: int | None = None
    channels: list[str] | None = None
    products: list[str] | None = None
    per_customer: int | None = None
    budget: Decimal | None = None
    issue_limit: int | None = None
    holdout_percent: int | None = None
    refund_rule: str | None = None
    code_prefix: str | None = None
    status: str | None = None
