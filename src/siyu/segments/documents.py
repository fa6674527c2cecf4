"""Documents on disk (segments, journeys, tags, stages, content, provider secrets): JSON or YAML
by suffix (YAML through the one bounded reader, siyu.store.documents), and YAML output so
definitions stay readable in reviews."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from siyu.segments.schemas import SegmentDefinitionError
from siyu.store.documents import load_yaml

MAX_BYTES = 20_000_000


def read_document(path: Path) -> Any:
    if not path.is_file():
        raise SegmentDefinitionError(str(path), "no such file")
    if path.stat().st_size > MAX_BYTES:
        raise SegmentDefinitionError(str(path), f"larger than {MAX_BYTES // 1_000_000} MB")
    text = path.read_text(encoding="utf-8-sig")
    try:
        document = load_yaml(text) if path.suffix.lower() in (".yaml", ".yml") else orjson.loads(text)
    except (yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise SegmentDefinitionError(
            path.name, f"not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}: {exc}"
        ) from None
    if not isinstance(document, dict | list):
        # a file holding only a string would otherwise be taken for the path of another file
        # by the Python API (which reads a str argument as a path)
        raise SegmentDefinitionError(
            path.name, f"expected an object or a list, not {type(document).__name__}"
        )
    return document


def to_yaml(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
