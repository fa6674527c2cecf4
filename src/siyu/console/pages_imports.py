"""Imports (导入): upload a CSV/XLSX/JSONL file of contacts or events and watch it import.

The upload is staged under the data directory and imported by ``Siyu.import_file`` in a
background thread of this process (``siyu.ingest.jobs``); the page polls a JSON status
endpoint until the job is done, then shows the counts, the first rejected rows and the notes
on imported rows. "预览列映射" first checks the staged file without writing anything
(``Siyu.import_preview``) and shows how each column maps, with a picker per column; starting
from the preview imports the same staged file with the mapping chosen there. Staged previews
nobody started are removed after ``STAGED_HOURS``.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from siyu.api.deps import get_client
from siyu.api.security import actor_of
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import tr
from siyu.console.web import PageError, render
from siyu.console.web import user_language as _lang
from siyu.ingest import jobs
from siyu.ingest.columns import CONTACT_ALIASES, EVENT_ALIASES
from siyu.ingest.files import Progress
from siyu.ingest.readers import ImportFileError, detect_format
from siyu.profiles.identifiers import IDENTIFIER_TYPES

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/imports"): P.IMPORTS_WRITE,
    ("POST", "/console/imports"): P.IMPORTS_WRITE,
    ("GET", "/console/imports/{job_id}"): P.IMPORTS_WRITE,
    ("GET", "/console/imports/{job_id}/status"): P.IMPORTS_WRITE,
    ("POST", "/console/imports/start"): P.IMPORTS_WRITE,
}
KINDS = ("contacts", "events")
FORMATS = ("csv", "xlsx", "jsonl")
STAGED_HOURS = 24
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
#: Fields offered in the preview's pickers besides the identifier types (labelled in texts).
TRAIT_FIELDS = {
    "contacts": tuple(f for f in CONTACT_ALIASES if f not in IDENTIFIER_TYPES),
    "events": tuple(f for f in EVENT_ALIASES if f not in IDENTIFIER_TYPES),
}
#: Lines per committed batch. Smaller than the CLI's 5000 so the progress bar moves on files of
#: a few thousand rows; still large enough that per-batch overhead stays small.
BATCH_SIZE = 2000
#: Rejected rows shown on the page (the dead-letter file keeps all of them).
SHOWN_ERRORS = 20


def _form(request: Request, status: int = 200, **extra: Any) -> Response:
    recent = jobs.recent_jobs(get_client(request).ctx.db)
    values = {"kind": "contacts", "format": "", "mapping": "", **extra.pop("values", {})}
    return render(request, "imports.html", status=status, recent=recent, values=values, **extra)


def _text(form: Any, name: str, default: str = "") -> str:
    value = form.get(name, default)
    return value if isinstance(value, str) else default


def parse_mapping(text: str, lang: str) -> dict[str, str]:
    """``手机=phone`` lines (or comma-separated) → {"手机": "phone"}."""
    mapping: dict[str, str] = {}
    items = [part for line in text.splitlines() for part in line.split(",")]
    for n, item in enumerate(items, start=1):
        if not item.strip():
            continue
        column, sep, field = item.partition("=")
        if not sep or not column.strip() or not field.strip():
            raise ValueError(tr("imports_bad_mapping", lang, n=n, line=item.strip()))
        mapping[column.strip()] = field.strip()
    return mapping


@router.get("/imports")
def imports_page(request: Request) -> Response:
    return _form(request)


@router.post("/imports")
async def imports_upload(request: Request) -> Response:
    """The form is read here, after the console's guard signed the user in: declared as
    File/Form parameters, FastAPI would read (and spool to disk) the upload before the guard."""
    lang = _lang(request)
    async with request.form(max_files=1, max_fields=10) as form:
        kind, format = _text(form, "kind", "contacts"), _text(form, "format")
        mapping = _text(form, "mapping")
        file = form.get("file")
        values = {"kind": kind, "format": format, "mapping": mapping}
        if kind not in KINDS:
            return _form(request, 422, error=tr("imports_bad_kind", lang), values=values)
        if not isinstance(file, UploadFile) or not file.filename:
            return _form(request, 422, error=tr("imports_no_file", lang), values=values)
        try:
            columns = parse_mapping(mapping, lang)
        except ValueError as exc:
            return _form(request, 422, error=str(exc), values=values)
        client = get_client(request)
        path = jobs.stage_upload(client.ctx.settings.data_dir / "uploads", file.filename)
        with path.open("wb") as out:
            while chunk := await file.read(1 << 20):
                out.write(chunk)
        preview = bool(_text(form, "preview"))
    fmt = format if format in FORMATS else None
    if preview:
        return await _preview(request, path, kind, fmt, columns, values)
    return await _start(request, path, kind, fmt, columns, values)


async def _start(
    request: Request, path: Path, kind: str, fmt: str | None, columns: dict[str, str], values: dict[str, str]
) -> Response:
    client = get_client(request)
    lang = _lang(request)

    def run(progress: Progress) -> Any:
        return client.import_file(path, kind, fmt, columns or None, progress=progress, batch_size=BATCH_SIZE)

    try:
        converted = None
        if detect_format(path, fmt) == "csv":  # a workbook is not text: nothing to convert
            converted = await run_in_threadpool(jobs.to_utf8, path)
        job_id = await run_in_threadpool(jobs.start_import, client.ctx.db, path, run)
    except ImportFileError as exc:
        shutil.rmtree(path.parent, ignore_errors=True)
        return _form(request, 422, error=tr("imports_cannot_start", lang, what=str(exc)), values=values)
    suffix = "?converted=1" if converted else ""
    return RedirectResponse(f"/console/imports/{job_id}{suffix}", status_code=303)


def _clear_stale(base: Path) -> None:
    """Staged uploads of previews nobody started, older than STAGED_HOURS."""
    if not base.is_dir():
        return
    cutoff = time.time() - STAGED_HOURS * 3600
    for folder in base.iterdir():
        if folder.is_dir() and _TOKEN.match(folder.name) and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


async def _preview(
    request: Request, path: Path, kind: str, fmt: str | None, columns: dict[str, str], values: dict[str, str]
) -> Response:
    client = get_client(request)
    lang = _lang(request)
    await run_in_threadpool(_clear_stale, path.parent.parent)
    try:
        data = await run_in_threadpool(client.import_preview, path, kind, fmt, columns or None)
    except ImportFileError as exc:
        shutil.rmtree(path.parent, ignore_errors=True)
        return _form(request, 422, error=tr("imports_cannot_start", lang, what=str(exc)), values=values)
    pii = client.ctx.parser.pii  # the page shows no phone or email in clear
    data["errors"] = [{**e, "reason": pii.scrub_value(e["reason"])} for e in data["errors"]]
    data["warnings"] = [{k: pii.scrub_value(v) for k, v in n.items()} for n in data["warnings"]]
    options = [(f, tr(f"privacy_id_{f}", lang)) for f in IDENTIFIER_TYPES]
    options += [(f, tr(f"imports_field_{f}", lang)) for f in TRAIT_FIELDS[kind]]
    return render(
        request,
        "imports_preview.html",
        preview=data,
        token=path.parent.name,
        file=path.name,
        kind=kind,
        fmt=fmt or "",
        options=options,
        known={f for f, _ in options},
    )


@router.post("/imports/start")
async def imports_start(request: Request) -> Response:
    """Import the file a preview staged, with the mapping chosen on the preview page."""
    lang = _lang(request)
    async with request.form(max_files=0, max_fields=1000) as form:
        token, kind, fmt = _text(form, "token"), _text(form, "kind", "contacts"), _text(form, "format")
        mapping: dict[str, str] = {}
        for key in form:
            if key.startswith("column_"):
                column = _text(form, key)
                target = _text(form, "field_" + key.removeprefix("column_")).strip()
                if target:
                    mapping[column] = target
    base = get_client(request).ctx.settings.data_dir / "uploads"
    staged = sorted((base / token).iterdir()) if _TOKEN.match(token) and (base / token).is_dir() else []
    if kind not in KINDS or len(staged) != 1:
        return _form(request, 422, error=tr("imports_preview_expired", lang))
    values = {"kind": kind, "format": fmt, "mapping": ""}
    return await _start(request, staged[0], kind, fmt if fmt in FORMATS else None, mapping, values)


def _status(request: Request, job_id: int) -> dict[str, Any]:
    ctx = get_client(request).ctx
    status = jobs.job_status(ctx.db, job_id, SHOWN_ERRORS, ctx.keyring, ctx.settings.dead_letter_dir)
    if status is None:
        raise PageError(404, "not_found", {"what": tr("imports_job", _lang(request), id=job_id)})
    return status


@router.get("/imports/{job_id}")
def import_job(request: Request, job_id: int, converted: bool = False, offset: int = 0) -> Response:
    job = _status(request, job_id)
    flash = tr("imports_converted", _lang(request)) if converted else None
    offset = max(0, offset)
    # every rejected line, a page at a time, decrypted from the dead-letter file; phones and
    # emails masked (the clear record is for `siyu import rejected --reveal` / REST reveal)
    client = get_client(request)
    rejected = client.import_rejected(job_id, SHOWN_ERRORS, offset, actor=actor_of(request))
    for row in rejected["rows"]:
        row["shown"] = record_text(row)
    return render(
        request,
        "imports_job.html",
        job=job,
        flash=flash,
        shown_errors=SHOWN_ERRORS,
        rejected=rejected,
        retention_days=f"{client.ctx.settings.dead_letter_retention_days:g}",
    )


def record_text(row: dict[str, Any]) -> str:
    """A rejected record as the operator reads it: ``column：value`` pairs, not JSON."""
    record = row.get("record")
    if isinstance(record, dict):
        return "；".join(f"{k}：{'' if v is None else v}" for k, v in record.items())
    return str(record if record is not None else row.get("raw") or "")


@router.get("/imports/{job_id}/status")
def import_job_status(request: Request, job_id: int) -> Response:
    job = _status(request, job_id)
    return JSONResponse(
        {
            **job,
            "started_at": job["started_at"].isoformat() if job["started_at"] else None,
            "finished_at": job["finished_at"].isoformat() if job["finished_at"] else None,
        }
    )
