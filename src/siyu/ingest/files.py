"""File import (JSONL and CSV) for events and contacts.

Each batch of lines is committed together with the import job's counters, so a killed import
keeps every batch it finished and a re-run skips them (message ids are idempotent; lines
without one get a content hash). Rejected lines go to a dead-letter JSONL file with their line
number, field and reason, next to the original record.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from siyu.ingest.messages import content_message_id
from siyu.ingest.service import BatchResult, IngestService, Rejection
from siyu.profiles.identifiers import IDENTIFIER_PRIORITY
from siyu.store.engine import Database
from siyu.store.models import ImportJob, Source

Progress = Callable[[int, int], None]  # (bytes read, lines read)
EVENT_COLUMNS = {"type", "event", "timestamp", "messageId", "message_id", "userId", "anonymousId"}


class ImportFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A line that could not even be read as a record (bad JSON, wrong column count)."""

    field: str
    reason: str
    raw: str


@dataclass
class ImportReport:
    job_id: int
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    dead_letter: str | None = None
    contacts_created: int = 0
    merges: int = 0

    def as_dict(self, max_errors: int = 100) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "lines": self.lines,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "contacts_created": self.contacts_created,
            "merges": self.merges,
            "dead_letter": self.dead_letter,
            "errors": self.errors[:max_errors],
            "errors_truncated": max(0, len(self.errors) - max_errors),
        }


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("jsonl", "csv"):
            raise ImportFileError(f"unknown format {fmt!r}: use jsonl or csv")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ImportFileError(f"cannot tell the format of {path.name}: pass --format jsonl|csv")


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


def _jsonl_records(
    fh: io.BufferedReader, kind: str, mapping: dict[str, str]
) -> Iterator[tuple[int, int, Any]]:
    for lineno, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raw = line.decode("utf-8", "replace").rstrip("\r\n")
            yield lineno, len(line), BadRecord("(json)", f"not valid JSON: {exc}", raw)
            continue
        if isinstance(record, dict) and "type" not in record:
            record = row_to_call(record, kind, mapping)
        elif isinstance(record, dict) and mapping:
            record = {mapping.get(k, k): v for k, v in record.items()}
        yield lineno, len(line), record


def _csv_records(fh: io.BufferedReader, kind: str, mapping: dict[str, str]) -> Iterator[tuple[int, int, Any]]:
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    if not reader.fieldnames:
        return
    last = 0
    for row in reader:
        lineno = reader.line_num
        pos = fh.tell() if hasattr(fh, "tell") else 0
        size, last = max(pos - last, 0), pos
        if None in row.values():  # DictReader fills missing cells with None
            width = len(reader.fieldnames)
            given = sum(v is not None for v in row.values())
            yield (
                lineno,
                size,
                BadRecord(
                    "(row)",
                    f"{given} columns, the header has {width}",
                    str([v for v in row.values() if v is not None]),
                ),
            )
            continue
        if None in row:
            extra = row.pop(None)  # type: ignore[call-overload]
            width = len(reader.fieldnames)
            yield (
                lineno,
                size,
                BadRecord(
                    "(row)",
                    f"{width + len(extra)} columns, the header has {width}",
                    str([*row.values(), *extra]),
                ),
            )
            continue
        yield lineno, size, row_to_call(row, kind, mapping)


class FileImporter:
    """Runs one file import as a sequence of committed batches."""

    def __init__(
        self,
        db: Database,
        make_service: Callable[[Any], IngestService],
        dead_letter_dir: Path,
        batch_size: int = 5000,
    ) -> None:
        self.db = db
        self.make_service = make_service
        self.dead_letter_dir = dead_letter_dir
        self.batch_size = batch_size

    def run(
        self,
        path: Path,
        kind: str,
        fmt: str | None = None,
        mapping: dict[str, str] | None = None,
        source: Source | None = None,
        progress: Progress | None = None,
    ) -> ImportReport:
        if kind not in ("events", "contacts"):
            raise ImportFileError(f"unknown import kind {kind!r}")
        if not path.is_file():
            raise ImportFileError(f"no such file: {path}")
        fmt = detect_format(path, fmt)
        mapping = mapping or {}
        with self.db.session() as s:
            job = ImportJob(kind=kind, filename=str(path.resolve()), format=fmt, status="running")
            s.add(job)
            s.flush()
            job_id = job.id
        report = ImportReport(job_id=job_id)
        self.dead_letter_dir.mkdir(parents=True, exist_ok=True)
        dead_path = self.dead_letter_dir / f"import-{job_id}-{path.stem}.rejected.jsonl"
        dead = None
        bytes_read = 0
        with self.db.sessionmaker() as session:
            service = self.make_service(session)
            try:
                with path.open("rb") as fh:
                    records = (
                        _jsonl_records(fh, kind, mapping)
                        if fmt == "jsonl"
                        else _csv_records(fh, kind, mapping)
                    )
                    batch: list[tuple[int, Any]] = []
                    for lineno, size, record in records:
                        bytes_read += size
                        batch.append((lineno, record))
                        if len(batch) >= self.batch_size:
                            dead = self._flush(
                                session, service, batch, report, job_id, dead, dead_path, source
                            )
                            batch = []
                            if progress:
                                progress(bytes_read, report.lines)
                    if batch:
                        dead = self._flush(session, service, batch, report, job_id, dead, dead_path, source)
                    if progress:
                        progress(bytes_read, report.lines)
                self._finish(session, job_id, "done", None)
            except BaseException as exc:
                session.rollback()
                self._finish(session, job_id, "failed", f"{type(exc).__name__}: {exc}")
                raise
            finally:
                if dead is not None:
                    dead.close()
        report.dead_letter = str(dead_path) if report.rejected else None
        return report

    def _flush(
        self,
        session: Any,
        service: IngestService,
        batch: list[tuple[int, Any]],
        report: ImportReport,
        job_id: int,
        dead: Any,
        dead_path: Path,
        source: Source | None,
    ) -> Any:
        calls = [rec for _, rec in batch]
        pre = {
            i: Rejection(i, rec.field, rec.reason)
            for i, rec in enumerate(calls)
            if isinstance(rec, BadRecord)
        }
        result: BatchResult = service.ingest(calls, source, pre)
        job = session.get(ImportJob, job_id)
        job.lines += len(batch)
        job.accepted += result.accepted
        job.duplicates += result.duplicates
        job.rejected += len(result.rejected)
        job.dead_letter_path = str(dead_path) if job.rejected else None
        session.commit()  # the batch and the job's counters are durable together
        report.lines += len(batch)
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.rejected += len(result.rejected)
        report.contacts_created += result.contacts_created
        report.merges += result.merges
        for r in result.rejected:
            lineno, record = batch[r.index]
            error = {"line": lineno, "field": r.field, "reason": r.reason}
            report.errors.append(error)
            if dead is None:
                dead = dead_path.open("ab")
            kept = {"raw": record.raw} if isinstance(record, BadRecord) else {"record": record}
            dead.write(orjson.dumps({**error, **kept}, default=str) + b"\n")
        return dead

    def _finish(self, session: Any, job_id: int, status: str, error: str | None) -> None:
        job = session.get(ImportJob, job_id)
        if job is None:
            return
        job.status = status
        job.error = error[:2000] if error else None
        job.finished_at = datetime.now(UTC)
        session.commit()
