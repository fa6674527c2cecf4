"""A real uvicorn server on 127.0.0.1 for the API tests: requests go over HTTP with httpx, so
routing, body parsing, compression, status codes and JSON rendering are the ones SDKs meet."""

from __future__ import annotations

import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from siyu.api.app import create_app
from siyu.auth.service import AuthService
from siyu.client import Siyu
from siyu.context import AppContext


@dataclass(frozen=True)
class RunningServer:
    url: str
    client: Siyu


class _KeepServerErrors:
    """Pass-through ASGI wrapper. Starlette answers an unhandled error with a 500 and then
    re-raises it; left to uvicorn, the traceback would be formatted in the server thread while
    pytest formats the failing assertion in the main thread, and CPython 3.11's traceback caret
    code (ast.parse) is not thread-safe. The errors are kept and printed at teardown instead."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.errors: list[BaseException] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            if scope["type"] == "lifespan":
                raise
            self.errors.append(exc)


@pytest.fixture
def server(ctx: AppContext) -> Iterator[RunningServer]:
    client = Siyu(ctx)
    app = _KeepServerErrors(create_app(client))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # a free port, held by us until uvicorn takes the socket
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited before it started")
        if time.monotonic() > deadline:
            srv.should_exit = True
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.01)
    try:
        yield RunningServer(url=f"http://127.0.0.1:{port}", client=client)
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
        sock.close()
        for exc in app.errors:
            print("server error during the test:", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)


def api_key(server: RunningServer, role: str, name: str | None = None) -> str:
    """A new API key with ``role``, made through the auth service (not the endpoint under test)."""
    with server.client.ctx.db.session() as session:
        _key, secret = AuthService(session).create_api_key(name or f"test-{role}", role, actor="test")
    return secret


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as an owner (the tests of what each role may do are in
    tests/auth/; here the capability behind each route is under test)."""
    headers = {"Authorization": f"Bearer {api_key(server, 'owner')}"}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as c:
        yield c


@pytest.fixture
def write_key(server: RunningServer) -> str:
    """A source's write key, created through the Python API (not the endpoint under test)."""
    return str(server.client.create_source("segment-web")["write_key"])
