"""Reading import files: JSONL lines and flat records (CSV and XLSX rows, see ``tables.py``) as
Segment calls, bad lines as BadRecord."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from siyu.ingest.body import BodyError, parse_json
from siyu.ingest.messages import content_message_id
from siyu.profiles.identifiers import IDENTIFIER_PRIORITY

#: Lines nested deeper are cut while reading (the most SIYU_MAX_PROPERTY_DEPTH allows): the
#: line is still deeper than the limit, so validation rejects it with the field.
LENIENT_DEPTH = 200
EVENT_COLUMNS = {"type", "event", "timestamp", "messageId", "message_id", "userId", "anonymousId"}


class ImportFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A line that could not even be read as a record (bad JSON, wrong column count)."""

    field: str
    reason: str
    raw: str


FORMATS = ("jsonl", "csv", "xlsx")


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ImportFileError(f"unknown format {fmt!r}: use jsonl, csv or xlsx")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".xls":
        raise ImportFileError(
            f"{path.name} is an Excel 97-2003 workbook (.xls): save it as .xlsx or CSV and import that"
        )
    raise ImportFileError(f"cannot tell the format of {path.name}: pass --format jsonl|csv|xlsx")


def row_to_call(row: dict[str, Any], kind: str, mapping: dict[str, str]) -> dict[str, Any]:
    """A flat record (CSV row, or JSONL line without ``type``) as a Segment call.

    Columns named after identifier types are identifiers; for events, the Segment field names
    keep their meaning and everything else is a property; for contacts, a trait. ``mapping``
    renames columns first (``{"手机": "phone"}``); a column mapped to ``-`` is skipped.
    """
    identifiers: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    call: dict[str, Any] = {"type": "track" if kind == "events" else "identify"}
    for col, value in row.items():
        name = mapping.get(col, col)
        if name == "-" or value is None or value == "":
            continue
        if name in IDENTIFIER_PRIORITY:
            identifiers[name] = value
        elif kind == "events" and name in EVENT_COLUMNS:
            call[name] = value
        else:
            rest[name] = value
    if identifiers:
        call["identifiers"] = identifiers
    call["properties" if kind == "events" else "traits"] = rest
    if "messageId" not in call and "message_id" not in call:
        call["messageId"] = content_message_id(call)
    return call


def parse_jsonl_line(line: bytes, kind: str, mapping: dict[str, str]) -> Any:
    """One JSONL line as a call (or a BadRecord); runs in import worker processes too."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        # Nesting, lone surrogates and huge numbers are the line's values' fault: read them
        # leniently so that validation names the field, as for an HTTP call.
        try:
            record = parse_json(line, LENIENT_DEPTH)
        except BodyError as exc:
            raw = line.decode("utf-8", "replace").rstrip("\r\n")
            return BadRecord("(json)", str(exc), raw)
    if isinstance(record, dict) and "type" not in record:
        return row_to_call(record, kind, mapping)
    if isinstance(record, dict) and mapping:
        return {mapping.get(k, k): v for k, v in record.items()}
    return record


def jsonl_lines(fh: io.BufferedReader, size: int) -> Iterator[tuple[list[tuple[int, bytes]], int]]:
    """Non-blank lines with their numbers, in chunks of ``size``, with the bytes they span."""
    chunk: list[tuple[int, bytes]] = []
    nbytes = 0
    for lineno, line in enumerate(fh, start=1):
        nbytes += len(line)
        if not line.strip():
            continue
        chunk.append((lineno, line))
        if len(chunk) >= size:
            yield chunk, nbytes
            chunk, nbytes = [], 0
    if chunk or nbytes:
        yield chunk, nbytes
