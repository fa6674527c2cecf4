"""Management endpoints: contacts, channels, entry codes, sources, consent, imports, stats.

Capability errors become HTTP answers in one place, the exception handlers in ``api.app``
(SourceError → 409, LookupError_ → 404, ConsentError and ImportFileError → 422).

Identifiers are masked unless the caller holds ``pii.reveal`` and asks (``?reveal=true``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as StarletteUpload

from siyu.api.deps import get_client, unit_of_work
from siyu.api.security import actor_of, require
from siyu.auth.roles import Permission
from siyu.consent.service import PURPOSES, ConsentService
from siyu.profiles import export, views
from siyu.sources.schemas import (
    ChannelCreate,
    ChannelOut,
    EntryCodeCreate,
    EntryCodeOut,
    SourceCreate,
    SourceOut,
)
from siyu.sources.service import SourcesService
from siyu.stats import overview

router = APIRouter(prefix="/api/v1")


@router.get("/stats", tags=["overview"], summary="Traffic pool counts")
def stats(request: Request) -> dict[str, Any]:
    with unit_of_work(request) as session:
        return overview(session)


@router.get("/contacts/{query}", tags=["contacts"], summary="A contact's profile (masked unless reveal)")
def contact(query: str, request: Request, reveal: bool = False) -> dict[str, Any]:
    """``reveal=true`` shows identifiers in clear: it needs ``pii.reveal`` and is audited."""
    principal = require(request, Permission.PII_REVEAL if reveal else Permission.CONTACTS_READ)
    with unit_of_work(request) as session:
        client = get_client(request)
        profiles = client.ctx.profiles(session)
        cid = views.find_contact_id(profiles, client.ctx.parser, query)
        return views.profile(session, profiles, cid, reveal=reveal, actor=principal.actor)


@router.get("/exports/contacts", tags=["contacts"], summary="Contacts with PII in clear, CSV (owners)")
def export_contacts(request: Request) -> StreamingResponse:
    """Raw PII leaves the system only here, only for owners, and every export is audited."""
    principal = require(request, Permission.PII_EXPORT)
    client = get_client(request)
    with unit_of_work(request) as session:
        rows = list(export.export_rows(session, client.ctx.profiles(session), actor=principal.actor))
    return StreamingResponse(
        iter([export.rows_to_csv(rows)]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


class ConsentIn(BaseModel):
    purpose: str = Field(description=f"One of {', '.join(PURPOSES)}.")
    channel: str = Field(default="*", description="Channel kind, or * for every channel.")
    granted: bool
    source: str = "api"
    evidence: dict[str, Any] | None = None


@router.post("/contacts/{query}/consent", tags=["contacts"], status_code=201)
def consent(query: str, body: ConsentIn, request: Request) -> dict[str, Any]:
    with unit_of_work(request) as session:
        client = get_client(request)
        cid = views.find_contact_id(client.ctx.profiles(session), client.ctx.parser, query)
        ConsentService(session).record(
            cid, body.purpose, body.channel, body.granted, body.source, body.evidence
        )
        return {
            "contact_id": cid,
            "state": [
                {"purpose": p, "channel": c, "granted": g}
                for (p, c), g in sorted(ConsentService(session).state(cid).items())
            ],
        }


@router.get("/channels", tags=["sources"], response_model=list[ChannelOut])
def list_channels(request: Request) -> Any:
    with unit_of_work(request) as session:
        return SourcesService(session).channels()


@router.post("/channels", tags=["sources"], response_model=ChannelOut, status_code=201)
def create_channel(request: Request, body: ChannelCreate) -> Any:
    with unit_of_work(request) as session:
        return SourcesService(session).create_channel(body, actor=actor_of(request))


@router.get("/entry-codes", tags=["sources"], response_model=list[EntryCodeOut])
def list_entry_codes(request: Request) -> Any:
    with unit_of_work(request) as session:
        return SourcesService(session).entry_codes()


@router.post("/entry-codes", tags=["sources"], response_model=EntryCodeOut, status_code=201)
def create_entry_code(request: Request, body: EntryCodeCreate) -> Any:
    with unit_of_work(request) as session:
        return SourcesService(session).create_entry_code(body, actor=actor_of(request))


@router.get("/sources", tags=["sources"], response_model=list[SourceOut])
def list_sources(request: Request) -> Any:
    with unit_of_work(request) as session:
        return SourcesService(session).sources()


@router.post("/sources", tags=["sources"], response_model=SourceOut, status_code=201)
def create_source(request: Request, body: SourceCreate) -> Any:
    with unit_of_work(request) as session:
        return SourcesService(session).create_source(body, actor=actor_of(request))


#: The upload's form, documented by hand: declared as File/Form parameters, FastAPI would read
#: (and spool to disk) the whole upload before the router's authorisation runs.
IMPORT_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["kind", "file"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["events", "contacts"]},
                        "file": {"type": "string", "format": "binary"},
                        "format": {
                            "type": "string",
                            "enum": ["jsonl", "csv", "xlsx"],
                            "description": "default from the file name",
                        },
                        "mapping": {
                            "type": "string",
                            "description": 'JSON object {"COLUMN": "FIELD"} ("-" skips a column); '
                            "Chinese headers (手机, 姓名, 邮箱, 生日…) map without it",
                        },
                        "dry_run": {
                            "type": "boolean",
                            "description": "check the file and answer how its columns map and what "
                            "would be rejected, importing nothing",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/imports",
    tags=["ingest"],
    summary="Import a CSV, XLSX or JSONL file of events or contacts (or check it: dry_run)",
    openapi_extra=IMPORT_FORM,
)
async def import_file(request: Request) -> dict[str, Any]:
    """The caller is authorised (router dependency) before the first byte of the upload is read.
    The answer's ``outcome`` is ``failed`` when every row was rejected (nothing imported)."""
    client = get_client(request)
    async with request.form(max_files=1, max_fields=10) as form:
        kind, file, fmt = form.get("kind"), form.get("file"), form.get("format") or None
        if not isinstance(kind, str) or not kind:
            raise HTTPException(422, "form field `kind` is required: events or contacts")
        if not isinstance(file, StarletteUpload):
            raise HTTPException(422, "form field `file` is required: the CSV, XLSX or JSONL file")
        if fmt is not None and not isinstance(fmt, str):
            raise HTTPException(422, "form field `format` must be csv, xlsx or jsonl")
        mapping = _form_mapping(form.get("mapping"))
        dry_run = str(form.get("dry_run") or "").lower() in ("1", "true", "yes", "on")
        suffix = Path(file.filename or "upload").suffix
        with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as tmp:
            while chunk := await file.read(1 << 20):
                tmp.write(chunk)
    try:
        if dry_run:
            return await run_in_threadpool(client.import_preview, tmp.name, kind, fmt, mapping)
        report = await run_in_threadpool(client.import_file, tmp.name, kind, fmt, mapping)
    finally:
        Path(tmp.name).unlink(missing_ok=True)
    return report.as_dict()


def _form_mapping(raw: Any) -> dict[str, str] | None:
    if raw is None or raw == "":
        return None
    try:
        mapping = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise HTTPException(422, 'form field `mapping` must be a JSON object {"COLUMN": "FIELD"}')
    return {str(k): v for k, v in mapping.items()}


@router.get(
    "/imports/{job_id}/rejected",
    tags=["ingest"],
    summary="An import's rejected lines, decrypted (phones and emails masked unless reveal)",
)
def import_rejected(
    job_id: int,
    request: Request,
    limit: Annotated[int, Query(ge=0, le=10_000, description="At most this many lines.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Skip this many rejected lines.")] = 0,
    reveal: bool = False,
) -> dict[str, Any]:
    """Line, field, reason and the record as sent, from the job's encrypted dead-letter file.
    ``reveal=true`` shows phones and emails in clear: it needs ``pii.reveal`` and is audited.
    ``purged`` tells that the file is gone (past ``SIYU_DEAD_LETTER_RETENTION_DAYS``)."""
    principal = require(request, Permission.PII_REVEAL if reveal else Permission.IMPORTS_WRITE)
    return get_client(request).import_rejected(job_id, limit, offset, reveal=reveal, actor=principal.actor)
