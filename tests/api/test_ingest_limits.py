"""Ingest limits come before the work: the attacks as the testers sent them.

* a huge body without a write key (or with a wrong one) is refused before it is read: the test
  sends the headers and a few bytes of a body declared as 1 GiB over a raw socket and reads the
  answer; a server that tried to read the body would never answer;
* a gzip bomb stops at the 8 MiB cap on the *decompressed* size (413), and its memory stays
  bounded by the cap;
* decompression and parsing run in a worker thread: the body reader is held inside the server
  until ``/healthz`` has answered, which it could not if the reader ran on the event loop;
* Content-Type and Content-Encoding other than JSON / gzip / deflate are 415;
* an unauthenticated upload to ``/api/v1/imports`` (and the console's upload) is not read, so
  nothing of it reaches the disk.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from tests.api.test_segment_compat import basic, segment_call

import siyu.api.ingest as ingest_api
from siyu.ingest.body import BodyTooLarge, inflate
from siyu.store.models import Event

GiB = 1 << 30
CAP = ingest_api.MAX_BODY


def stored(server: Any) -> int:
    with server.client.ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(Event)) or 0)


def answer_before_body(url: str, head: str, first_bytes: bytes = b"x" * 1024) -> str:
    """Send the request head and the first bytes of its body, then read the status line. The
    declared body is never sent in full: only a server that answers without reading it replies."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + first_bytes)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)  # times out (the test fails) if the server waits for the body
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def bomb(expanded: int) -> bytes:
    """A gzip body that expands to ``expanded`` bytes: the start of a batch, then one long string."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [packer.compress(b'{"batch": [{"type": "track", "event": "')]
    block = b"a" * (1 << 20)
    for _ in range(expanded >> 20):
        out.append(packer.compress(block))
    out.append(packer.compress(b'"}]}') + packer.flush())
    return b"".join(out)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    data = bomb(256 << 20)
    assert len(data) < 400 * 1024  # a small body …
    return data


@pytest.fixture
def hold_reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Hold the server's body reader until the test lets it go: (started, release)."""
    started, release = threading.Event(), threading.Event()
    real = ingest_api.read_body

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_api, "read_body", held)
    yield started, release
    release.set()


def in_background(fn: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[httpx.Response]]:
    result: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    thread.start()
    return thread, result


# --- the write key first ------------------------------------------------------------------------
def test_huge_body_without_a_key_is_refused_unread(server) -> None:
    head = f"POST /v1/batch HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: {GiB}\n"
    assert " 401 " in answer_before_body(server.url, head)


def test_huge_body_with_an_unknown_key_is_refused_unread(server) -> None:
    auth = basic("not-a-key")["Authorization"]
    head = (
        f"POST /v1/track HTTP/1.1\nHost: x\nAuthorization: {auth}\nContent-Type: application/json\n"
        f"Content-Length: {GiB}\n"
    )
    assert " 401 " in answer_before_body(server.url, head)


def test_declared_length_over_the_cap_is_413_unread(server, write_key) -> None:
    auth = basic(write_key)["Authorization"]
    head = f"POST /v1/batch HTTP/1.1\nHost: x\nAuthorization: {auth}\nContent-Length: {CAP + 1}\n"
    assert " 413 " in answer_before_body(server.url, head)


def test_key_in_the_body_only_for_small_bodies(server, write_key) -> None:
    """Browser beacons put writeKey in the body (they cannot set headers); such bodies are
    small. A large body must carry its key in the headers."""
    small = {"batch": [segment_call("track", "beacon", userId="B1", event="E")], "writeKey": write_key}
    resp = httpx.post(f"{server.url}/v1/batch", json=small)
    assert resp.status_code == 200, resp.text
    filler = [segment_call("track", f"big-{i}", userId="B1", event="E") for i in range(400)]
    large = {"batch": filler, "writeKey": write_key}
    assert len(json.dumps(large)) > ingest_api.BODY_KEY_MAX
    resp = httpx.post(f"{server.url}/v1/batch", json=large)
    assert resp.status_code == 401
    assert "basic-auth" in resp.json()["detail"]
    assert stored(server) == 1


# --- content type and encoding ------------------------------------------------------------------
@pytest.mark.parametrize(
    "ctype", ["application/x-www-form-urlencoded", "text/xml", "multipart/form-data; boundary=x", "image/png"]
)
def test_content_type_that_is_not_json_is_415(server, write_key, ctype: str) -> None:
    body = json.dumps({"batch": [segment_call("track", "ct", userId="C1", event="E")]})
    resp = httpx.post(
        f"{server.url}/v1/batch", content=body, headers={**basic(write_key), "Content-Type": ctype}
    )
    assert resp.status_code == 415, resp.text
    assert stored(server) == 0


def test_json_and_text_plain_are_accepted(server, write_key) -> None:
    """analytics.js (analytics-next) sends JSON as text/plain to avoid a CORS preflight."""
    for n, ctype in enumerate(
        ["application/json; charset=utf-8", "text/plain;charset=UTF-8", "application/vnd.x+json"]
    ):
        body = json.dumps({"batch": [segment_call("track", f"ok-{n}", userId="C1", event="E")]})
        resp = httpx.post(
            f"{server.url}/v1/batch", content=body, headers={**basic(write_key), "Content-Type": ctype}
        )
        assert resp.status_code == 200, (ctype, resp.text)
    assert stored(server) == 3


@pytest.mark.parametrize("encoding", ["br", "compress", "zstd", "gzip, br", "rot13"])
def test_unknown_content_encoding_is_415(server, write_key, encoding: str) -> None:
    body = gzip.compress(
        json.dumps({"batch": [segment_call("track", "enc", userId="C1", event="E")]}).encode()
    )
    headers = {**basic(write_key), "Content-Type": "application/json", "Content-Encoding": encoding}
    resp = httpx.post(f"{server.url}/v1/batch", content=body, headers=headers)
    assert resp.status_code == 415, resp.text
    assert stored(server) == 0


def test_deflate_and_broken_gzip(server, write_key) -> None:
    body = json.dumps({"batch": [segment_call("track", "defl", userId="C1", event="E")]}).encode()
    headers = {**basic(write_key), "Content-Type": "application/json"}
    resp = httpx.post(
        f"{server.url}/v1/batch",
        content=zlib.compress(body),
        headers={**headers, "Content-Encoding": "deflate"},
    )
    assert resp.status_code == 200, resp.text
    truncated = gzip.compress(body)[:-12]
    resp = httpx.post(
        f"{server.url}/v1/batch", content=truncated, headers={**headers, "Content-Encoding": "gzip"}
    )
    assert resp.status_code == 400
    assert "gzip" in resp.json()["detail"]


# --- the gzip bomb ------------------------------------------------------------------------------
def test_gzip_bomb_is_413_and_healthz_answers_meanwhile(server, write_key, gzip_bomb, hold_reader) -> None:
    started, release = hold_reader
    headers = {**basic(write_key), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    thread, result = in_background(
        lambda: httpx.post(f"{server.url}/v1/batch", content=gzip_bomb, headers=headers, timeout=60)
    )
    assert started.wait(30), "the server never started reading the body"
    # The body reader is held inside the server: /healthz answers only if it is not on the loop.
    assert httpx.get(f"{server.url}/healthz", timeout=10).json()["status"] == "ok"
    release.set()
    thread.join(60)
    assert result and result[0].status_code == 413, result and result[0].text
    assert "decompressed" in result[0].json()["detail"]
    assert stored(server) == 0


def test_inflating_a_bomb_stays_within_the_cap(gzip_bomb) -> None:
    """Memory, not time: a decompressor without the cap would hold all 256 MiB."""
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            inflate(gzip_bomb, "gzip", CAP)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * CAP


def test_concatenated_gzip_members_are_one_body() -> None:
    body = json.dumps({"batch": []}).encode()
    assert inflate(gzip.compress(body[:5]) + gzip.compress(body[5:]), "gzip", CAP) == body


def test_large_valid_batch_is_parsed_off_the_event_loop(server, write_key, hold_reader) -> None:
    started, release = hold_reader
    calls = [
        segment_call(
            "track", f"large-{i}", userId=f"L{i % 50}", event="Viewed", properties={"pad": "x" * 2000}
        )
        for i in range(1000)
    ]
    body = json.dumps({"batch": calls}).encode()
    headers = {**basic(write_key), "Content-Type": "application/json"}
    thread, result = in_background(
        lambda: httpx.post(f"{server.url}/v1/batch", content=body, headers=headers, timeout=120)
    )
    assert started.wait(30)
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    release.set()
    thread.join(120)
    assert result and result[0].status_code == 200, result and result[0].text
    assert result[0].json()["accepted"] == 1000
    assert stored(server) == 1000


# --- imports: authenticate before anything reaches the disk -------------------------------------
def multipart_head(path: str, length: int, extra: str = "") -> str:
    return (
        f"POST {path} HTTP/1.1\nHost: x\n{extra}"
        f"Content-Type: multipart/form-data; boundary=XyZ\nContent-Length: {length}\n"
    )


def upload_start() -> bytes:
    return (
        b'--XyZ\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncontacts\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nphone\r\n" + b"13800138000\r\n" * 1000
    )


def test_unauthenticated_import_upload_is_refused_unread(server) -> None:
    assert " 401 " in answer_before_body(server.url, multipart_head("/api/v1/imports", GiB), upload_start())


def test_import_upload_with_a_revoked_or_wrong_key_is_refused_unread(server) -> None:
    head = multipart_head("/api/v1/imports", GiB, "Authorization: Bearer sk_wrong\n")
    assert " 401 " in answer_before_body(server.url, head, upload_start())


def test_import_upload_by_a_role_without_the_permission_is_refused_unread(server, api_key) -> None:
    head = multipart_head("/api/v1/imports", GiB, f"Authorization: Bearer {api_key('viewer')}\n")
    assert " 403 " in answer_before_body(server.url, head, upload_start())


def test_console_upload_without_a_session_is_refused_unread(server) -> None:
    status = answer_before_body(server.url, multipart_head("/console/imports", GiB), upload_start())
    assert " 303 " in status


def test_spend_upload_is_authorised_before_it_is_read(server, api_key) -> None:
    """The spend import and the console's experiment upload take files too: same rule."""
    assert " 401 " in answer_before_body(server.url, multipart_head("/api/v1/spend", GiB), upload_start())
    head = multipart_head("/api/v1/spend", GiB, f"Authorization: Bearer {api_key('viewer')}\n")
    assert " 403 " in answer_before_body(server.url, head, upload_start())


def test_console_experiment_upload_without_a_session_is_refused_unread(server) -> None:
    head = multipart_head("/console/analytics/experiment", GiB)
    assert " 303 " in answer_before_body(server.url, head, upload_start())


def test_unauthenticated_upload_leaves_no_file(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sent in full (3 MiB, past the 1 MiB a form keeps in memory): still nothing on disk."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    data_dir = server.client.ctx.settings.data_dir
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    content = b"phone\n" + b"13800138000\n" * ((3 << 20) // 12)
    opened: list[str] = []
    real_open = os.open

    def watching_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(str(temp)):
            opened.append(str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", watching_open)
    resp = httpx.post(
        f"{server.url}/api/v1/imports",
        data={"kind": "contacts"},
        files={"file": ("big.csv", content, "text/csv")},
    )
    assert resp.status_code == 401
    assert opened == []  # not even an unnamed temporary file
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*")) == before
    assert list(temp.iterdir()) == []
