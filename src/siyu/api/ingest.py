"""Segment-compatible ingest endpoints: ``POST /v1/batch`` and the single-call endpoints.

The official Segment and RudderStack libraries send the source's write key as the HTTP
basic-auth user (empty password), JSON bodies, optionally gzip-compressed; they retry on 429 and
5xx only. We answer 200 once every accepted call is committed, listing rejected calls.
"""

from __future__ import annotations

import base64
import gzip
import time
import zlib
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from siyu.api.deps import get_client
from siyu.client import Siyu
from siyu.ingest.messages import MessageValidator
from siyu.ingest.service import BatchResult, ingest_in_transaction, validate_all
from siyu.sources.service import SourcesService
from siyu.store.models import Source

router = APIRouter(tags=["ingest"])
SINGLE = ("track", "identify", "page", "screen", "group", "alias")
MAX_BODY = 8 * 1024 * 1024


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


def _write_key(request: Request, body: dict[str, Any]) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            user = ""
        if user:
            return user
    key = body.get("writeKey") or request.headers.get("x-write-key")
    return str(key) if key else None


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPException(413, f"body larger than {MAX_BODY} bytes; send smaller batches")
    encoding = request.headers.get("content-encoding", "").lower()
    try:
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise HTTPException(400, f"body is not valid {encoding}: {exc}") from exc
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    return body


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


async def _ingest(request: Request, calls: list[Any], body: dict[str, Any]) -> Response:
    client = get_client(request)
    key = _write_key(request, body)
    if not key:
        raise HTTPException(401, "missing write key: send it as the HTTP basic-auth user")

    def work() -> BatchResult:
        source = request.app.state.write_keys.get(client, key)
        if source is None:
            raise HTTPException(401, "unknown or disabled write key")
        # Validation needs no database: done before the transaction, which on SQLite holds the
        # single write lock from its first statement.
        valid, rejected = validate_all(MessageValidator(client.ctx.parser), calls)
        return ingest_in_transaction(client.ctx.db, client.ingest_service, valid, rejected, source)

    return _answer(await run_in_threadpool(work))


@router.post("/v1/batch", summary="Ingest up to 1,000 Segment-spec calls")
async def batch(request: Request) -> Response:
    body = await _body(request)
    calls = body.get("batch")
    if not isinstance(calls, list):
        raise HTTPException(400, "field `batch` must be a list of calls")
    limit = get_client(request).ctx.settings.max_batch_calls
    if len(calls) > limit:
        raise HTTPException(400, f"batch has {len(calls)} calls; at most {limit} per request")
    for call in calls:
        # Calls inherit batch-level context like Segment's batch endpoint does.
        if isinstance(call, dict) and "context" not in call and isinstance(body.get("context"), dict):
            call["context"] = body["context"]
    return await _ingest(request, calls, body)


def _single(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        body = await _body(request)
        call = {**body, "type": kind}
        call.pop("writeKey", None)
        return await _ingest(request, [call], body)

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
