"""``ProviderHttp.arequest`` (the dispatcher's aiohttp path) against raw HTTP servers on
127.0.0.1: what is repeated, what is not, and that answers read as the blocking client's."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import httpx
import pytest

from siyu.channels.http import ProviderError, ProviderHttp

Handler = Callable[[int, bytes, asyncio.StreamWriter], Awaitable[bool]]


async def serve(handler: Handler) -> tuple[asyncio.AbstractServer, list[bytes]]:
    """A keep-alive server: ``handler(n, request_bytes, writer)`` answers request ``n`` and says
    whether to keep the connection."""
    seen: list[bytes] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                seen.append(head + body)
                if not await handler(len(seen), head + body, writer):
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, seen


def answer(status: int, body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


def run(
    handler: Handler, method: str = "POST", **kwargs: object
) -> tuple[httpx.Response | Exception, list[bytes]]:
    async def go() -> tuple[httpx.Response | Exception, list[bytes]]:
        server, seen = await serve(handler)
        port = server.sockets[0].getsockname()[1]
        http = ProviderHttp(f"http://127.0.0.1:{port}/base", rate_per_s=0, retries=2, backoff_s=0.01)
        try:
            result: httpx.Response | Exception = await http.arequest(method, "/send", **kwargs)
        except ProviderError as exc:
            result = exc
        finally:
            await http.aclose()
            http.close()
            server.close()
        return result, seen

    return asyncio.run(go())


def test_the_request_goes_out_as_built_and_a_gzip_answer_reads_as_json() -> None:
    async def handler(n: int, raw: bytes, w: asyncio.StreamWriter) -> bool:
        w.write(
            answer(
                200,
                gzip.compress(b'{"ok": true}'),
                "Content-Encoding: gzip",
                "Content-Type: application/json",
            )
        )
        return True

    resp, seen = run(
        handler, content=b'{"a":1}', headers={"X-Sign": "abc", "Content-Type": "application/json"}
    )
    assert isinstance(resp, httpx.Response) and resp.status_code == 200
    assert resp.json() == {"ok": True}
    head = seen[0].split(b"\r\n\r\n")[0].lower()
    assert seen[0].startswith(b"POST /base/send HTTP/1.1")
    assert b"x-sign: abc" in head and b"content-length: 7" in head
    assert seen[0].endswith(b'{"a":1}')


def test_a_send_whose_connection_drops_after_the_request_is_not_repeated() -> None:
    async def handler(n: int, raw: bytes, w: asyncio.StreamWriter) -> bool:
        return False  # read the request, then hang up without answering

    resp, seen = run(handler, content=b"x")
    assert isinstance(resp, ProviderError) and resp.temporary
    assert len(seen) == 1  # the provider may have acted: the dispatcher looks it up instead


def test_a_5xx_to_a_send_is_not_repeated_but_a_429_is() -> None:
    async def five(n: int, raw: bytes, w: asyncio.StreamWriter) -> bool:
        w.write(answer(503, b"busy"))
        return True

    resp, seen = run(five, content=b"x")
    assert isinstance(resp, httpx.Response) and resp.status_code == 503 and len(seen) == 1

    async def limited(n: int, raw: bytes, w: asyncio.StreamWriter) -> bool:
        w.write(answer(429, b"slow down", "Retry-After: 0") if n == 1 else answer(200, b"{}"))
        return True

    resp, seen = run(limited, content=b"x")
    assert isinstance(resp, httpx.Response) and resp.status_code == 200 and len(seen) == 2


def test_an_idempotent_get_is_repeated_after_a_5xx() -> None:
    async def handler(n: int, raw: bytes, w: asyncio.StreamWriter) -> bool:
        w.write(answer(502, b"") if n < 3 else answer(200, b"{}"))
        return True

    resp, seen = run(handler, method="GET")
    assert isinstance(resp, httpx.Response) and resp.status_code == 200 and len(seen) == 3


def test_a_refused_connection_is_a_temporary_error_naming_the_cause() -> None:
    async def go() -> ProviderError:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        http = ProviderHttp(f"http://127.0.0.1:{port}", rate_per_s=0, retries=1, backoff_s=0.01)
        try:
            with pytest.raises(ProviderError) as info:
                await http.arequest("POST", "/x", content=b"x")
        finally:
            await http.aclose()
            http.close()
        return info.value

    err = asyncio.run(go())
    assert err.temporary and "Connect" in str(err)
