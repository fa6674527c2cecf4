"""Shared fixtures. Every test that uses ``ctx`` runs on SQLite, and again on PostgreSQL when
``SIYU_TEST_DATABASE_URL`` is set (each PostgreSQL test gets its own schema, dropped after)."""

from __future__ import annotations

import base64
import os
import re
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from siyu.api.app import create_app
from siyu.auth.service import AuthService
from siyu.client import Siyu
from siyu.config import Settings
from siyu.context import AppContext

# Property tests explore new examples on a developer's machine and replay a fixed sequence in CI
# (CI=true), so a CI run is deterministic; a failure found locally becomes an @example.
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis.settings.load_profile("ci" if os.environ.get("CI") else "default")

PG_URL = os.environ.get("SIYU_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
TEST_KEY = base64.b64encode(b"k" * 32).decode()
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``long`` run first: with three workers taking one file each, a long file
    started last would keep one worker busy alone at the end. Tests marked ``postgresql_only``
    race two writers, which SQLite serialises: their SQLite case is deselected, not skipped, so
    no skip is ever counted as a pass."""
    sqlite_only = [item for item in items if _is_sqlite_case_of_postgresql_only(item)]
    dropped = set(sqlite_only)
    if sqlite_only:
        config.hook.pytest_deselected(items=sqlite_only)
        items[:] = [item for item in items if item not in dropped]
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def _is_sqlite_case_of_postgresql_only(item: pytest.Item) -> bool:
    if item.get_closest_marker("postgresql_only") is None:
        return False
    callspec = getattr(item, "callspec", None)
    return callspec is None or callspec.params.get("db_url") != "postgresql"


def _pg_schema_url(schema: str) -> str:
    assert PG_URL is not None
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'siyu.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)  # type: ignore[arg-type]
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, secret_key=TEST_KEY)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[AppContext]:
    context = AppContext.from_settings(settings)
    context.db.upgrade()
    yield context
    context.close()


@pytest.fixture
def contacts(ctx: AppContext) -> Callable[[int], list[int]]:
    """``contacts(n)``: n new contacts with nothing on them; their ids."""
    from siyu.store.models.contacts import Contact

    def make(n: int) -> list[int]:
        with ctx.db.session() as s:
            rows = [Contact() for _ in range(n)]
            s.add_all(rows)
            s.flush()
            return [c.id for c in rows]

    return make


# --- a real HTTP server (API and console) ----------------------------------------------------
@dataclass(frozen=True)
class RunningServer:
    url: str
    client: Siyu
    app: Any  # the FastAPI application (its routes, state)


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
    fastapi_app = create_app(client)
    app = _KeepServerErrors(fastapi_app)
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
        yield RunningServer(url=f"http://127.0.0.1:{port}", client=client, app=fastapi_app)
    finally:
        srv.should_exit = True
        thread.join(timeout=30)
        sock.close()
        for exc in app.errors:
            print("server error during the test:", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)


@pytest.fixture
def api_key(server: RunningServer) -> Callable[[str], str]:
    """Makes an API key with a role, through the auth service (not the endpoint under test)."""

    def make(role: str, name: str | None = None) -> str:
        with server.client.ctx.db.session() as session:
            _key, secret = AuthService(session).create_api_key(name or f"test-{role}", role, actor="test")
        return secret

    return make


PASSWORD = "correct horse battery"


class ConsoleSession(httpx.Client):
    """A browser-like client signed in to the console through the real sign-in form. ``csrf``
    is the session's token, as the pages embed it; ``post_form`` adds it like a page's form."""

    csrf: str = ""

    def __enter__(self) -> ConsoleSession:  # already open: sign_in used it
        return self

    def post_form(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kw)


def sign_in(base_url: str, username: str, password: str = PASSWORD) -> ConsoleSession:
    browser = ConsoleSession(base_url=base_url, timeout=60, follow_redirects=True)
    page = browser.get("/console/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token, page.text
    resp = browser.post(
        "/console/login", data={"username": username, "password": password, "login_token": token.group(1)}
    )
    assert resp.status_code == 200 and "/console/login" not in str(resp.url), resp.text[:500]
    meta = re.search(r'name="csrf-token" content="([^"]*)"', resp.text)
    assert meta, resp.text[:500]
    browser.csrf = meta.group(1)
    return browser


@pytest.fixture
def console_login() -> Callable[..., ConsoleSession]:
    """``console_login(base_url, username, password)``: sign in through the real form."""
    return sign_in


@pytest.fixture
def console_as(server: RunningServer) -> Iterator[Callable[[str], ConsoleSession]]:
    """Signs in a new user with the given role; ``console_as("viewer").get("/console/…")``."""
    opened: list[ConsoleSession] = []

    def make(role: str) -> ConsoleSession:
        username = f"{role}-{len(opened)}"
        server.client.users.create(username, PASSWORD, role, language="en", actor="test")
        browser = sign_in(server.url, username)
        opened.append(browser)
        return browser

    yield make
    for browser in opened:
        browser.close()


def walk_routes(routes: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) of every endpoint, through included routers (FastAPI includes them
    lazily, so ``app.routes`` holds the routers, not their routes)."""
    from fastapi.routing import APIRoute

    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.extend((m, prefix + route.path) for m in sorted(route.methods))
        elif hasattr(route, "original_router"):
            found += walk_routes(route.original_router.routes, prefix + route.include_context.prefix)
    return found


@pytest.fixture
def app_routes(server: RunningServer) -> Callable[[str], list[tuple[str, str]]]:
    """``app_routes("/api/")``: (method, path) of every route of the running app under a prefix."""
    return lambda prefix: [(m, p) for m, p in walk_routes(server.app.routes) if p.startswith(prefix)]
