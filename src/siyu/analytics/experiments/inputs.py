"""Per-user values for an experiment from CSV (``variant,value[,pre_value]``): the input of
CUPED and of mean metrics when the raw data is at hand. Errors name the row, line and column."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from siyu.analytics.base import AnalyticsError


def read_values_csv(source: str | Path, name: str | None = None) -> list[dict[str, Any]]:
    """Raw per-user values from CSV (columns ``variant,value[,pre_value]``) as variants: the
    control is the variant named ``control`` if there is one, else the first in the file."""
    if isinstance(source, Path):
        label, text = name or source.name, source.read_text(encoding="utf-8-sig")
    else:
        label, text = name or "values", source
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "variant" not in header or "value" not in header:
        raise AnalyticsError(label, f"needs columns variant,value[,pre_value] (header: {', '.join(header)})")
    iv, ix = header.index("variant"), header.index("value")
    ip = header.index("pre_value") if "pre_value" in header else None
    groups: dict[str, dict[str, list[float]]] = {}
    for number, record in enumerate(reader, start=1):
        if not any(c.strip() for c in record):
            continue
        at = f"{label} row {number} (line {reader.line_num})"
        cells = [c.strip() for c in record] + [""] * len(header)
        variant = cells[iv]
        if not variant:
            raise AnalyticsError(f"{at}.variant", "empty")
        group = groups.setdefault(variant, {"values": [], "pre_values": []})
        for col, key in ((ix, "values"), (ip, "pre_values")):
            if col is None:
                continue
            try:
                x = float(cells[col])
            except ValueError:
                raise AnalyticsError(f"{at}.{header[col]}", f"not a number: {cells[col]!r}") from None
            if not math.isfinite(x):
                raise AnalyticsError(f"{at}.{header[col]}", f"not a finite number: {cells[col]!r}")
            group[key].append(x)
    order = sorted(groups, key=lambda k: k != "control")  # stable: file order otherwise
    return [
        {
            "name": k,
            "values": groups[k]["values"],
            **({"pre_values": groups[k]["pre_values"]} if ip is not None else {}),
        }
        for k in order
    ]
