"""Bulk tagging from a CSV file: columns ``contact`` (an id as ``id:42``, a phone, an email or
``type:value``), ``tag`` (key) and optionally ``weight``. Every bad row is reported with its
line and field; every good row is applied (in one unit of work per call)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siyu.profiles.identifiers import IdentifierParser
from siyu.profiles.service import ProfileService
from siyu.profiles.views import LookupError_, find_contact_id
from siyu.store.models import utcnow
from siyu.tags.schemas import check_key
from siyu.tags.service import TagError, TagService

MAX_ROWS = 1_000_000


@dataclass
class TagImportReport:
    rows: int = 0
    applied: int = 0
    added: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, limit: int = 100) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "applied": self.applied,
            "added": self.added,
            "rejected": len(self.errors),
            "errors": self.errors[:limit],
        }


def import_tags_csv(
    path: Path,
    tags: TagService,
    profiles: ProfileService,
    parser: IdentifierParser,
    create: bool = False,
    source: str = "import",
    actor: str = "system",
) -> TagImportReport:
    report = TagImportReport()
    # tag → contact → summed weight (None: no weight given); every row is one contribution
    wanted: dict[str, dict[int, float | None]] = {}
    if not path.is_file():
        raise TagError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in ("contact", "tag") if c not in header]
        if missing:
            raise TagError(
                f"{path.name}: missing column(s) {', '.join(missing)}; expected contact,tag[,weight]"
            )
        known: set[str] = set()
        for row in reader:
            # The file line the record starts on: blank lines count, a quoted value may span lines.
            spans = sum(v.count("\n") for v in row.values() if isinstance(v, str))
            line = reader.line_num - spans
            report.rows += 1
            if report.rows > MAX_ROWS:
                raise TagError(f"{path.name}: more than {MAX_ROWS} rows; split the file")
            if None in row:
                report.errors.append({"line": line, "field": None, "error": "more values than columns"})
                continue
            key = (row.get("tag") or "").strip()
            try:
                check_key(key)
            except ValueError as exc:
                report.errors.append({"line": line, "field": "tag", "error": str(exc)})
                continue
            if key not in known:
                try:
                    tags.tag(key, create=create)
                except TagError as exc:
                    report.errors.append({"line": line, "field": "tag", "error": str(exc)})
                    continue
                known.add(key)
            weight: float | None = None
            raw_weight = (row.get("weight") or "").strip()
            if raw_weight:
                try:
                    weight = float(raw_weight)
                    if not math.isfinite(weight) or weight <= 0:
                        raise ValueError
                except ValueError:
                    report.errors.append(
                        {"line": line, "field": "weight", "error": f"not a positive number: {raw_weight!r}"}
                    )
                    continue
            try:
                contact_id = find_contact_id(profiles, parser, row.get("contact") or "")
            except LookupError_ as exc:
                report.errors.append({"line": line, "field": "contact", "error": str(exc)})
                continue
            per_tag = wanted.setdefault(key, {})
            before = per_tag.get(contact_id)
            per_tag[contact_id] = weight if before is None else before + (weight or 0.0)
            report.applied += 1
    now = utcnow()
    for key, items in wanted.items():
        result = tags.apply_weighted(
            key, {c: (w, now) for c, w in items.items()}, source, actor=actor, detail=path.name
        )
        report.added += result.added
    return report
