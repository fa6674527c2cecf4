"""Segment documents on disk: JSON or YAML (by suffix; YAML is read safely), and YAML output
so definitions stay readable in reviews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from siyu.segments.schemas import SegmentDefinitionError

MAX_BYTES = 20_000_000


def read_document(path: Path) -> Any:
    if not path.is_file():
        raise SegmentDefinitionError(str(path), "no such file")
    if path.stat().st_size > MAX_BYTES:
        raise SegmentDefinitionError(str(path), f"larger than {MAX_BYTES // 1_000_000} MB")
    text = path.read_text(encoding="utf-8-sig")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return orjson.loads(text)
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise SegmentDefinitionError(
            path.name, f"not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}: {exc}"
        ) from None


def to_yaml(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
