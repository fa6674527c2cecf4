"""REST endpoints for analyses: one route per verb, the analysis chosen by ``kind``.

``POST /api/v1/analytics/{kind}`` takes the analysis parameters as the JSON body (the same
document as the Python API's keywords) and answers with the result's payload, or its main table
as CSV with ``?format=csv``. ``GET /api/v1/analytics`` lists every kind with the JSON Schema of
its parameters, so clients (and the console) can build forms without a second source of truth.
Bad parameters answer 422 naming the field.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from siyu.analytics.base import runners
from siyu.api.deps import get_client
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1")


@router.get("/analytics", tags=["analytics"], summary="Every analysis kind and its parameters")
def analytics_kinds() -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "summary": (cls.__doc__ or "").strip().split("\n")[0],
            "needs_warehouse": cls.needs_source,
            "params": cls.params_model.model_json_schema(),
        }
        for kind, cls in sorted(runners().items())
    ]


@router.post("/analytics/{kind}", tags=["analytics"], summary="Run an analysis")
def analytics_run(
    kind: str,
    request: Request,
    params: dict[str, Any] = Body(default_factory=dict),
    format: Literal["json", "csv"] = Query("json", description="json: the payload; csv: the main table"),
) -> Response:
    result = get_client(request).analytics.run(kind, params)
    if format == "csv":
        return PlainTextResponse(result.to_csv(), media_type="text/csv; charset=utf-8")
    return Response(result.to_json(), media_type="application/json")


#: The spend upload's form, documented by hand: declared as a File parameter, FastAPI would read
#: (and spool to disk) the whole upload before the router's authorisation runs.
SPEND_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV: date,channel,amount[,campaign]",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/spend",
    tags=["analytics"],
    summary="Import channel spend (CSV); bad rows reported, good rows kept",
    openapi_extra=SPEND_FORM,
)
async def spend_import(request: Request) -> dict[str, Any]:
    """The caller is authorised (router dependency) before the first byte of the upload is read."""
    client = get_client(request)
    async with request.form(max_files=1, max_fields=5) as form:
        file = form.get("file")
        if not isinstance(file, StarletteUpload):
            raise HTTPException(422, "form field `file` is required: the spend CSV")
        name = Path(file.filename or "").name or "upload.csv"
        with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as tmp:
            while chunk := await file.read(1 << 20):
                tmp.write(chunk)
    try:
        return await run_in_threadpool(client.spend.import_csv, tmp.name, actor_of(request), name)
    finally:
        Path(tmp.name).unlink(missing_ok=True)


@router.get("/spend", tags=["analytics"], summary="Imported channel spend rows")
def spend_list(request: Request, channel: str | None = None) -> list[dict[str, Any]]:
    return get_client(request).spend.list(channel)


@router.post("/scores/churn", tags=["analytics"], summary="Score churn risk and store the scores")
def scores_churn(request: Request, params: dict[str, Any] = Body(default_factory=dict)) -> Response:
    """Stores the scores (``store`` is implied), so segments with ``churn_risk`` see them."""
    result = get_client(request).scores.churn({**params, "store": True})
    return Response(result.to_json(), media_type="application/json")
