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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

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


@router.post(
    "/spend", tags=["analytics"], summary="Import channel spend (CSV); bad rows reported, good rows kept"
)
async def spend_import(request: Request, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    client = get_client(request)
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as tmp:
        while chunk := await file.read(1 << 20):
            tmp.write(chunk)
    try:
        name = Path(file.filename or "").name or "upload.csv"
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
