"""Request-scoped access to the process's client and units of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.orm import Session

from siyu.client import Siyu


def get_client(request: Request) -> Siyu:
    return request.app.state.client  # type: ignore[no-any-return]


@contextmanager
def unit_of_work(request: Request) -> Iterator[Session]:
    """A unit of work inside the handler: committed before the handler returns, so a client
    that got a 2xx can rely on what it wrote. (A dependency with ``yield`` may commit only
    after the response has been sent.)"""
    with get_client(request).ctx.db.session() as session:
        yield session
