"""One error body for the whole API, and the OpenAPI document that declares it.

Every error answer — a capability's refusal, a request FastAPI could not parse, an
``HTTPException`` of a handler, a missing route — is ``ErrorBody``: ``detail`` is always there
and says, in one line, what is wrong and where; ``path`` and ``error`` split it when one field
is at fault; ``errors`` lists every problem of a request that failed validation (the input
itself is never echoed: it may be a password). The OpenAPI document declares this body for
every 4xx (and 503) answer of every operation, and the credentials each operation takes:
an API key as a bearer token or the console's session cookie on ``/api/v1``, a source's
write key as the basic-auth user on the Segment-compatible ``/v1`` endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from siyu.i18n_errors import explain, explain_error

#: Problems listed in ``detail`` of a request that failed validation (``errors`` has them all).
DETAIL_PROBLEMS = 5


class FieldProblem(BaseModel):
    loc: list[str | int] = Field(description="Where: body/query/path/header, then the field path")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    detail: str = Field(description="What is wrong and where, in one line")
    path: str | None = Field(default=None, description="The field (row, index) at fault, when one is")
    error: str | None = Field(default=None, description="The problem without its path")
    errors: list[FieldProblem] | None = Field(default=None, description="Every problem of an invalid request")


def error_response(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    return JSONResponse(body, status_code=status, headers=headers)


_PART = re.compile(r"\[(\d+)\]|[^.\[\]]+")


def field_problems(pairs: Iterable[tuple[str, str]], kind: str = "value_error") -> list[dict[str, Any]]:
    """A capability's (field path, reason) pairs as ``FieldProblem``s, the shape every 422
    answer's ``errors`` has: ``rewards[2].points`` → ``loc: ["body", "rewards", 2, "points"]``."""
    return [
        {
            "loc": ["body", *(int(m[1]) if m[1] else m[0] for m in _PART.finditer(field))],
            "msg": reason,
            "type": kind,
        }
        for field, reason in pairs
    ]


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def wants_chinese(request: Request) -> bool:
    """``Accept-Language: zh…`` first: validation errors are worded in Chinese (``errors[].msg``
    stays pydantic's English, for programs)."""
    return request.headers.get("accept-language", "").strip().lower().startswith("zh")


def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    lang = "zh" if wants_chinese(request) else "en"
    problems = [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    raw = list(exc.errors())
    if lang == "zh":
        shown = [explain(e, lang) for e in raw[:DETAIL_PROBLEMS]]
        more = len(problems) - len(shown)
        detail = "；".join(shown) + (f"；另有 {more} 处问题" if more > 0 else "")
        first_error = explain_error(raw[0], lang) if raw else "请求无效"
    else:
        shown = [f"{_where(p['loc'])}: {p['msg']}" for p in problems[:DETAIL_PROBLEMS]]
        more = len(problems) - len(shown)
        detail = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        first_error = problems[0]["msg"] if problems else "invalid request"
    first_loc = problems[0]["loc"] if problems else []
    return error_response(
        422, detail or "invalid request", path=_where(first_loc), error=first_error, errors=problems
    )


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))


def install_error_answers(app: FastAPI) -> None:
    """Requests that fail validation and HTTP errors answer ``ErrorBody`` like everything else."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)


# --- the OpenAPI document ----------------------------------------------------------------------
SECURITY_SCHEMES: dict[str, Any] = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`siyu api-keys create`): `Authorization: Bearer sk_…`.",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "siyu_session",
        "description": "The console's session cookie; writes also need the `X-CSRF-Token` header.",
    },
    "writeKey": {
        "type": "http",
        "scheme": "basic",
        "description": "A source's write key as the basic-auth user with an empty password "
        "(what the Segment and RudderStack SDKs send).",
    },
}


def _security(path: str) -> list[dict[str, list[str]]] | None:
    if path.startswith("/api/v1/"):
        return [{"apiKey": []}, {"session": []}]
    if path.startswith("/v1/"):
        return [{"writeKey": []}]
    return None


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


def document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document plus the security schemes and one declared error body everywhere."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in doc.get("paths", {}).items():
        security = _security(path)
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses["422"] = _error("Invalid input: `detail` names the field, row or index")
            responses["4XX"] = _error(
                "Refused: not signed in (401), not allowed (403), not found (404), "
                "conflict (409), too large (413), too many attempts (429)"
            )
            if security is not None:
                operation["security"] = security
                if path.startswith("/api/v1/"):
                    responses["503"] = _error("The warehouse is busy; try again shortly")
    return doc


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
