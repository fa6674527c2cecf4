"""Coupon codes: generated in bulk from an unambiguous alphabet, or imported from a CSV. Codes are
case-insensitive (kept upper-case), unique across all templates; generated and imported codes wait
``unassigned`` until an issue hands one out."""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.coupons.errors import CouponError
from siyu.store.dialect import chunked
from siyu.store.models.base import utcnow
from siyu.store.models.coupons import Coupon, CouponTemplate

#: No 0/O, 1/I: a code read aloud or typed from a poster is not mistaken.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE = re.compile(r"^[A-Z0-9_\-]{4,64}$")
MAX_GENERATE = 1_000_000
MAX_IMPORT_ROWS = 1_000_000


def normalise(code: str) -> str:
    return code.strip().upper()


def random_code(prefix: str = "", length: int = 10) -> str:
    """32 symbols ^ 10 ≈ 10¹⁵ codes: at a million codes a guess hits one in a billion."""
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


def insert_codes(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Inserts the rows, skipping codes taken; returns the codes inserted."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    done: set[str] = set()
    for chunk in chunked(rows, 5_000):
        stmt = insert(Coupon.__table__).on_conflict_do_nothing(index_elements=["code"])
        done.update(session.scalars(stmt.returning(Coupon.code), list(chunk)).all())
    return done


def _row(template: CouponTemplate, code: str, now: datetime) -> dict[str, Any]:
    return {"template_id": template.id, "code": code, "status": "unassigned", "created_at": now}


def generate(session: Session, template: CouponTemplate, count: int, *, length: int = 10) -> list[str]:
    """``count`` new unassigned codes for the template. A code already taken (by any template) is
    skipped by the insert and replaced by a fresh one, so the result always has ``count`` codes."""
    if not 1 <= count <= MAX_GENERATE:
        raise CouponError("invalid_count", f"count: between 1 and {MAX_GENERATE}", field="count")
    if not 6 <= length <= 32:
        raise CouponError("invalid_length", "length: between 6 and 32", field="length")
    now = utcnow()
    made: list[str] = []
    for _ in range(20):  # each round misses ~0 codes; 20 rounds only fail on a near-full code space
        want = count - len(made)
        if not want:
            break
        batch = {random_code(template.code_prefix, length) for _ in range(want)}
        inserted = insert_codes(session, [_row(template, c, now) for c in sorted(batch)])
        made.extend(sorted(inserted))
    if len(made) < count:  # pragma: no cover - the code space is exhausted
        raise CouponError("codes_exhausted", "could not find free codes; use a longer length")
    return made


@dataclass
class ImportReport:
    added: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)  # {"row", "code", "reason"}

    def as_json(self) -> dict[str, Any]:
        return {"added": self.added, "errors": self.errors}


def import_codes(session: Session, template: CouponTemplate, text: str) -> ImportReport:
    """Codes from a CSV (first column, or the column named ``code``; a header row is optional).
    Each bad row is reported by its row number (1 = the file's first line) with the reason —
    ``missing`` (no code), ``invalid`` (characters or length), ``duplicate`` (earlier in the
    file) or ``taken`` (already in siyu) — and every valid row is kept."""
    report = ImportReport()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    column = 0
    seen: dict[str, int] = {}
    for number, row in enumerate(reader, start=1):
        if number > MAX_IMPORT_ROWS:
            report.errors.append({"row": number, "code": "", "reason": "too_many_rows"})
            break
        cells = [c.strip() for c in row]
        if number == 1 and any(c.lower() in ("code", "券码", "coupon") for c in cells):
            column = next(i for i, c in enumerate(cells) if c.lower() in ("code", "券码", "coupon"))
            continue
        if not any(cells):
            continue
        raw = cells[column] if column < len(cells) else ""
        code = normalise(raw)
        if not code:
            report.errors.append({"row": number, "code": "", "reason": "missing"})
        elif not CODE.match(code):
            report.errors.append({"row": number, "code": raw[:64], "reason": "invalid"})
        elif code in seen:
            report.errors.append(
                {"row": number, "code": code, "reason": "duplicate", "first_row": seen[code]}
            )
        else:
            seen[code] = number
    taken: set[str] = set()
    codes = list(seen)
    for chunk in chunked(codes, 1_000):
        taken.update(session.scalars(select(Coupon.code).where(Coupon.code.in_(chunk))))
    now = utcnow()
    fresh = [c for c in codes if c not in taken]
    inserted = insert_codes(session, [_row(template, c, now) for c in fresh])
    taken.update(c for c in fresh if c not in inserted)  # taken by a concurrent import meanwhile
    for code in codes:
        if code in taken:
            report.errors.append({"row": seen[code], "code": code, "reason": "taken"})
    report.errors.sort(key=lambda e: e["row"])
    report.added = len(inserted)
    return report
