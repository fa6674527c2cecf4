"""Request-scoped access to the process's client and units of work."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from siyu.client import Siyu


def get_client(request: Request) -> Siyu:
    return request.app.state.client  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """A unit of work per request: committed after the handler returns, rolled back on error."""
    with get_client(request).ctx.db.session() as session:
        yield session
