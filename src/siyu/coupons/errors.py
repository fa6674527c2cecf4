"""Errors of the coupons capability. Each carries a stable ``code`` (snake_case) the console and
the API word in the reader's language, and ``field`` when one input is to blame."""

from __future__ import annotations


class CouponError(ValueError):
    """A request the coupons capability refuses (HTTP 422)."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class CouponNotFound(CouponError):
    """The template or coupon named does not exist (HTTP 404)."""


class CouponConflict(CouponError):
    """The key is taken (HTTP 409)."""
