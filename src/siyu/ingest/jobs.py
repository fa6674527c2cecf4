"""File imports started from a page: run in a background thread of the server process, with
their progress readable while they run.

The importer itself (:class:`siyu.ingest.files.FileImporter`) keeps the durable state on the
``import_jobs`` row (lines and counts, committed with every batch, and the final status). What
only this process knows is how far through the file the importer is, in bytes: that is kept
in memory next to the job id, so a progress bar can show a percentage. A status read by
another process (or after a restart) still has the row, just no percentage.

The job id is what pages link to, but the importer creates the row itself; the row's
``filename`` is the staged upload's path, unique per upload (a fresh directory each time), so
:func:`start_import` waits for that row to appear and returns its id.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from siyu.audit import service as audit
from siyu.ingest import dead_letters
from siyu.ingest.files import ImportReport, Progress, outcome
from siyu.ingest.readers import ImportFileError
from siyu.profiles.detect import PiiDetector, mask_text
from siyu.profiles.pii import Keyring
from siyu.store.engine import Database
from siyu.store.models import ImportJob
from siyu.store.private import DIR_MODE, private_dir

if TYPE_CHECKING:
    from siyu.context import AppContext

#: How many in-memory progress entries to keep (finished ones are dropped oldest first).
KEEP = 200
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")
_CHUNK = 1 << 20


class ImportJobNotFound(LookupError):
    """No import job with that id."""


@dataclass
class _Live:
    total_bytes: int
    bytes_done: int = 0
    lines: int = 0
    finished: bool = False


_LIVE: dict[tuple[str, int], _Live] = {}
_LOCK = threading.Lock()


def stage_upload(base: Path, filename: str | None) -> Path:
    """A fresh path for an uploaded file under ``base`` (keeps the file's own name, made safe,
    so the job list shows what the user picked)."""
    # masked first: a file name can hold a phone (张三-13912345678.csv) and is recorded on the job
    name = _SAFE_NAME.sub("_", mask_text(Path(filename or "").name)).strip("._") or "upload"
    folder = base / uuid.uuid4().hex
    private_dir(base)
    folder.mkdir(mode=DIR_MODE)  # the upload holds personal data until it is imported
    return folder / name


def to_utf8(path: Path) -> str | None:
    """Make the file UTF-8: a CSV saved by Excel on a Chinese Windows is GBK (GB18030). Returns
    the encoding converted from, or None when the file was UTF-8 already."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return None
    except UnicodeDecodeError:
        pass
    converted = path.with_name(path.name + ".utf8")
    try:
        with (
            path.open("r", encoding="gb18030", newline="") as src,
            converted.open("w", encoding="utf-8", newline="") as dst,
        ):
            shutil.copyfileobj(src, dst, _CHUNK)
    except UnicodeDecodeError as exc:
        converted.unlink(missing_ok=True)
        raise ImportFileError("the file is neither UTF-8 nor GBK text; save it as CSV UTF-8") from exc
    converted.replace(path)
    return "gb18030"


def start_import(
    db: Database,
    path: Path,
    run: Callable[[Progress], ImportReport],
    remove_after: bool = True,
    wait_s: float = 30.0,
) -> int:
    """Start ``run(progress)`` (an import of ``path``) in a background thread; return the id of
    the import job it creates. Errors raised before the job exists (an unknown format, say)
    are raised here; later ones end up on the job row (status ``failed``)."""
    live = _Live(total_bytes=max(path.stat().st_size, 1))
    failure: list[BaseException] = []
    finished = threading.Event()

    def progress(nbytes: int, lines: int) -> None:
        live.bytes_done, live.lines = nbytes, lines

    def work() -> None:
        try:
            run(progress)
        except BaseException as exc:  # kept for the caller; the job row records it too
            failure.append(exc)
        finally:
            live.finished = True
            finished.set()
            if remove_after:  # the staged upload: the file, then its folder if nothing else is in it
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()

    thread = threading.Thread(target=work, name=f"siyu-import-{path.parent.name[:8]}", daemon=True)
    thread.start()
    target = dead_letters.recorded_name(path)
    deadline = time.monotonic() + wait_s
    while True:
        ended = finished.is_set()  # read before the query: a job made before the end is seen
        with db.session() as s:
            job_id = s.scalar(
                select(ImportJob.id)
                .where(ImportJob.filename == target)
                .order_by(ImportJob.id.desc())
                .limit(1)
            )
        if job_id is not None:
            _remember(db.url, job_id, live)
            return int(job_id)
        if ended:
            if failure:
                raise failure[0]
            raise ImportFileError("the import ended without creating a job")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the import did not start within {wait_s:.0f} s")
        finished.wait(0.02)


def _remember(url: str, job_id: int, live: _Live) -> None:
    with _LOCK:
        _LIVE[(url, job_id)] = live
        if len(_LIVE) > KEEP:
            for key in [k for k, v in _LIVE.items() if v.finished][: len(_LIVE) - KEEP]:
                del _LIVE[key]


def _percent(job: ImportJob, live: _Live | None) -> float | None:
    if job.status == "done":
        return 100.0
    if live is None:
        return None  # started by another process, or before a restart: counts only
    return round(min(99.0, 100.0 * live.bytes_done / live.total_bytes), 1)


def rejected_rows(
    dead_letter_path: str | None, keyring: Keyring, limit: int = 20, pii: PiiDetector | None = None
) -> list[dict[str, Any]]:
    """The first rejected lines of an import: line, field and reason (phones and emails in the
    reason masked; not the record itself, which the page need not show)."""
    rows = dead_letters.read(dead_letter_path, keyring, limit=limit, pii=pii)
    return [{"line": r["line"], "field": r["field"], "reason": r["reason"]} for r in rows]


def rejected(
    ctx: AppContext,
    job_id: int,
    limit: int | None = None,
    offset: int = 0,
    reveal: bool = False,
    actor: str = "system",
) -> dict[str, Any]:
    """Job ``job_id``'s rejected lines decrypted from its dead-letter file (line, field, reason,
    record), from ``offset``, at most ``limit``. Phones and emails are masked unless
    ``reveal``, which is audited. ``purged`` is true when the job had rejected lines but the
    file is gone (past ``SIYU_DEAD_LETTER_RETENTION_DAYS``)."""
    if (limit is not None and limit < 0) or offset < 0:
        raise ImportFileError("limit and offset must not be negative")
    with ctx.db.session() as s:
        job = s.get(ImportJob, job_id)
        if job is None:
            raise ImportJobNotFound(f"no import job {job_id}")
        path = job.dead_letter_path
        rows = dead_letters.read(path, ctx.keyring, limit, offset, reveal, ctx.parser.pii)
        if reveal and rows:
            audit.record(s, actor, "pii.revealed", "import_job", job_id, {"fields": ["rejected_lines"]})
            s.commit()
        return {
            "job_id": job.id,
            "kind": job.kind,
            "file": Path(job.filename).name,
            "rejected": job.rejected,
            "purged": bool(job.rejected) and not (path and Path(path).is_file()),
            "offset": offset,
            "rows": rows,
        }


def _job_dict(job: ImportJob, live: _Live | None) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "file": Path(job.filename).name,
        "format": job.format,
        "status": job.status,
        # a job that ran to the end but rejected every row imported nothing: not a success
        "outcome": outcome(job.lines, job.accepted, job.duplicates, job.rejected)
        if job.status == "done"
        else job.status,
        "done": job.status in ("done", "failed"),
        "percent": _percent(job, live),
        "lines": job.lines,
        "accepted": job.accepted,
        "duplicates": job.duplicates,
        "rejected": job.rejected,
        "error": job.error,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def job_status(
    db: Database,
    job_id: int,
    max_errors: int = 20,
    keyring: Keyring | None = None,
    notes_dir: Path | None = None,
) -> dict[str, Any] | None:
    """The job's counts, status and outcome, its progress in percent (None when unknown), the
    first rejected rows and (given the dead-letter directory) the first notes on imported rows
    and how many there are. None when there is no such job."""
    with db.session() as s:
        job = s.get(ImportJob, job_id)
        if job is None:
            return None
        with _LOCK:
            live = _LIVE.get((db.url, job_id))
        out = _job_dict(job, live)
        readable = job.rejected and keyring is not None
        out["errors"] = rejected_rows(job.dead_letter_path, keyring, max_errors) if readable else []
        out["notes"], out["notes_count"] = [], 0
        if keyring is not None and notes_dir is not None:
            path = dead_letters.notes_path_for(notes_dir, job_id)
            out["notes"], out["notes_count"] = dead_letters.read_notes(path, keyring, max_errors)
        return out


def recent_jobs(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    with db.session() as s:
        jobs = s.scalars(select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)).all()
        with _LOCK:
            return [_job_dict(j, _LIVE.get((db.url, j.id))) for j in jobs]


__all__ = [
    "ImportFileError",
    "ImportJobNotFound",
    "job_status",
    "recent_jobs",
    "rejected",
    "rejected_rows",
    "stage_upload",
    "start_import",
]
