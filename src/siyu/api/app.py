"""The FastAPI application: ingest, management API, OpenAPI docs at /docs, and (inside
``siyu serve``) the warehouse feeder running in the background."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from siyu import __version__
from siyu.api import ingest, management
from siyu.client import Siyu
from siyu.client import open as open_client
from siyu.warehouse.feeder import FeederProcess


def create_app(client: Siyu, feed_warehouse: bool = False) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = client.ctx.settings
        feeder = (
            FeederProcess(
                settings.resolved_database_url,
                settings.resolved_warehouse_path,
                settings.warehouse_batch_size,
                settings.warehouse_feed_interval_s,
            )
            if feed_warehouse
            else None
        )
        if feeder:
            feeder.start()
        yield
        if feeder:
            feeder.stop()

    app = FastAPI(
        title="siyu (私域) API",
        version=__version__,
        description="Ingest (Segment-compatible), profiles, channels and sources.",
        lifespan=lifespan,
    )
    app.state.client = client
    app.state.write_keys = ingest.WriteKeyCache()
    app.include_router(ingest.router)
    app.include_router(management.router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/healthz", tags=["overview"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    return app


def serve_app() -> FastAPI:
    """Factory for ``siyu serve --workers N``: each worker process builds its own client from
    the environment; whichever worker takes the warehouse first feeds it."""
    return create_app(open_client(), feed_warehouse=True)
