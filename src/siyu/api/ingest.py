"""Segment-compatible ingest endpoints: ``POST /v1/batch`` and the single-call endpoints.

The official Segment and RudderStack libraries send the source's write key as the HTTP
basic-auth user (empty password), JSON bodies, optionally gzip-compressed; they retry on 429 and
5xx only, and drop the whole batch after their retries. We answer 200 once every accepted call is
committed, listing rejected calls by index: bad input is never a 500.

Limits come before the work (docs/ingest.md): the write key before any byte of the body, then
Content-Type / Content-Encoding (415), then the size while the body streams in (413, also on the
decompressed size); decompression, parsing and validation run in worker threads, never on the
event loop.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from siyu.api.deps import get_client
from siyu.client import Siyu
from siyu.ingest.body import ENCODINGS, BodyError, BodyTooLarge, read_body
from siyu.ingest.messages import MessageValidator
from siyu.ingest.service import BatchResult, ingest_in_transaction, validate_all
from siyu.sources.service import SourcesService
from siyu.store.models import Source

router = APIRouter(tags=["ingest"])
SINGLE = ("track", "identify", "page", "screen", "group", "alias")
MAX_BODY = 8 * 1024 * 1024
#: Largest body read without a write key in the headers, to find one in it (sendBeacon's 64 KiB).
BODY_KEY_MAX = 64 * 1024


class WriteKeyCache:
    """Write key → source, remembered for ``ttl`` seconds (unknown keys too), so a busy SDK does
    not cost a query per request. A disabled key stops working within ``ttl``."""

    def __init__(self, ttl: float = 10.0) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Source | None]] = {}

    def get(self, client: Siyu, key: str) -> Source | None:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with client.ctx.db.session() as s:
            source = SourcesService(s).source_by_write_key(key)
            if source is not None:
                s.expunge(source)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = (now + self.ttl, source)
        return source


def _header_key(request: Request) -> str | None:
    """The write key from the headers: the basic-auth user (what the SDKs send) or X-Write-Key."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            user = ""
        if user:
            return user
    return request.headers.get("x-write-key") or None


def _check_headers(request: Request) -> None:
    """415 before the body is read: JSON only (``text/plain`` too: browser SDKs send JSON as
    text/plain to avoid a CORS preflight; no type at all is taken as JSON), known encodings only."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype and ctype not in ("application/json", "text/plain") and not ctype.endswith("+json"):
        raise HTTPException(415, f"Content-Type {ctype!r} is not supported; send application/json")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ENCODINGS:
        raise HTTPException(415, f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or none")


async def _receive(request: Request, limit: int, too_large: HTTPException) -> bytes:
    """The raw body, refused as soon as it (or its declared length) passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large
    return bytes(raw)


async def _read(request: Request) -> tuple[Source, dict[str, Any]]:
    """Authenticate, then read the body: the key before any byte of the body, the cap before
    decompression finishes, decompression and parsing in a worker thread."""
    client = get_client(request)
    cache: WriteKeyCache = request.app.state.write_keys
    key = _header_key(request)
    source = await run_in_threadpool(cache.get, client, key) if key else None
    if key and source is None:
        raise HTTPException(401, "unknown or disabled write key")
    _check_headers(request)
    if source is None:
        # A key in the body (browser beacons) is read only from a small body: an anonymous
        # client cannot make the server read megabytes to find out it has no key.
        limit = BODY_KEY_MAX
        too_large = HTTPException(
            401,
            f"missing write key: send it as the HTTP basic-auth user (a writeKey in the body "
            f"is read only from bodies up to {BODY_KEY_MAX} bytes)",
        )
    else:
        limit = MAX_BODY
        too_large = HTTPException(413, f"body larger than {MAX_BODY} bytes; send smaller batches")
    raw = await _receive(request, limit, too_large)
    depth = client.ctx.settings.max_property_depth
    encoding = request.headers.get("content-encoding", "")
    try:
        body = await run_in_threadpool(read_body, raw, encoding, MAX_BODY, depth)
    except BodyTooLarge as exc:
        raise HTTPException(413, str(exc)) from exc
    except BodyError as exc:
        raise HTTPException(400, str(exc)) from exc
    if source is None:
        body_key = body.get("writeKey")
        if not body_key:
            raise HTTPException(401, "missing write key: send it as the HTTP basic-auth user")
        source = await run_in_threadpool(cache.get, client, str(body_key))
        if source is None:
            raise HTTPException(401, "unknown or disabled write key")
    return source, body


class JSONBytes(Response):
    media_type = "application/json"


def _answer(result: BatchResult) -> Response:
    return JSONBytes(
        orjson.dumps(
            {
                "success": not result.rejected,
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": [
                    {"index": r.index, "field": r.field, "reason": r.reason} for r in result.rejected
                ],
            }
        )
    )


async def _ingest(
    request: Request, source: Source, calls: list[Any], sent_at: Any, received_at: datetime
) -> Response:
    client = get_client(request)
    validator = MessageValidator.from_settings(client.ctx.parser, client.ctx.settings)

    def work() -> BatchResult:
        # Validation needs no database: done before the transaction, which on SQLite holds the
        # single write lock from its first statement.
        valid, rejected = validate_all(validator, calls, received_at=received_at, sent_at=sent_at)
        return ingest_in_transaction(
            client.ctx.db, client.ingest_service, valid, rejected, source, received_at
        )

    return _answer(await run_in_threadpool(work))


@router.post("/v1/batch", summary="Ingest up to 1,000 Segment-spec calls")
async def batch(request: Request) -> Response:
    received_at = datetime.now(UTC)
    source, body = await _read(request)
    calls = body.get("batch")
    if not isinstance(calls, list):
        raise HTTPException(400, "field `batch` must be a list of calls")
    limit = get_client(request).ctx.settings.max_batch_calls
    if len(calls) > limit:
        raise HTTPException(400, f"batch has {len(calls)} calls; at most {limit} per request")
    context = body.get("context")
    if isinstance(context, dict):
        # Calls inherit batch-level context like Segment's batch endpoint does.
        for call in calls:
            if isinstance(call, dict) and "context" not in call:
                call["context"] = context
    return await _ingest(request, source, calls, body.get("sentAt"), received_at)


def _single(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        received_at = datetime.now(UTC)
        source, body = await _read(request)
        call = {**body, "type": kind}
        call.pop("writeKey", None)
        return await _ingest(request, source, [call], None, received_at)

    endpoint.__name__ = f"ingest_{kind}"
    return endpoint


for _kind in SINGLE:
    router.add_api_route(
        f"/v1/{_kind}",
        _single(_kind),
        methods=["POST"],
        summary=f"Ingest one {_kind} call",
        response_class=JSONBytes,
    )
