"""A small threaded HTTP server harness for the emulators (stdlib only, binds 127.0.0.1 on a
free port, stops when the ``with`` block ends)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON; bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, **headers: str) -> Response:
    return Response(status, data, headers)


class Emulator:
    """Subclass and implement :meth:`handle`. ``self.lock`` guards the emulator's state (the
    server is threaded). ``fail_next`` lets a test inject temporary failures."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.base_url = ""

    def handle(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dispatch(self, request: Request) -> Response:
        with self.lock:
            self.requests.append(request)
        return self.handle(request)

    @contextmanager
    def running(self) -> Iterator[str]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; with Nagle's algorithm and the client's
            # delayed ACK every keep-alive response would wait 40 ms.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Request(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                try:
                    resp = emulator._dispatch(req)
                except Exception as exc:  # an emulator bug must show up as a 500, not a hang
                    resp = Response(500, {"error": repr(exc)})
                data = resp.body
                ctype = resp.headers.pop("Content-Type", None)
                if isinstance(data, (dict, list)):
                    data, ctype = orjson.dumps(data), ctype or "application/json"
                elif isinstance(data, str):
                    data = data.encode()
                elif data is None:
                    data = b""
                self.send_response(resp.status)
                self.send_header("Content-Type", ctype or "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self.base_url
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
