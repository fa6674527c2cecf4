"""The API tests' HTTP client (the real uvicorn server is ``server`` in tests/conftest.py):
requests go over HTTP with httpx, so routing, body parsing, compression, status codes and JSON
rendering are the ones SDKs meet."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture
def http(server: Any, api_key: Callable[[str], str]) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as an owner (the tests of what each role may do are in
    tests/auth/; here the capability behind each route is under test)."""
    headers = {"Authorization": f"Bearer {api_key('owner')}"}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as c:
        yield c


@pytest.fixture
def write_key(server: Any) -> str:
    """A source's write key, created through the Python API (not the endpoint under test)."""
    return str(server.client.create_source("segment-web")["write_key"])
