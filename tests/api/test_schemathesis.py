"""Property-based API testing with schemathesis against the real ASGI application: every
operation of the OpenAPI document gets generated requests (valid and invalid), with an owner's
API key and without credentials, and must answer with no server error (5xx) and a body that
matches the schema the document declares for that status.

Bounded and deterministic: a few examples per operation, derandomized, so the run takes
minutes at most and finds the same things every time. SQLite only (the handlers are the same
on PostgreSQL; the database-specific paths have their own tests).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from siyu.api.app import create_app
from siyu.auth.service import AuthService
from siyu.client import Siyu
from siyu.config import Settings
from siyu.context import AppContext

TEST_KEY = base64.b64encode(b"k" * 32).decode()
CHECKS = [not_a_server_error, response_schema_conformance]
#: Examples per operation and per credential: ~80 operations × 2 stays within a few minutes.
EXAMPLES = 12


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The application on a fresh SQLite database, and an owner's API key."""
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    ctx = AppContext.from_settings(
        Settings(data_dir=tmp / "data", database_url=f"sqlite:///{tmp / 'siyu.db'}", secret_key=TEST_KEY)
    )
    ctx.db.upgrade()
    with ctx.db.session() as session:
        _key, secret = AuthService(session).create_api_key("schemathesis", "owner", actor="test")
    yield create_app(Siyu(ctx)), secret
    ctx.close()


FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the report names the request
)


def fuzz(app: Any, headers: dict[str, str]) -> list[str]:
    """Every operation of the document, ``EXAMPLES`` generated requests each; the failures."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for found in schema.get_all_operations():
        operation = found.ok()

        @FUZZ
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            call()
        except (Exception, BaseExceptionGroup) as exc:  # per operation: what broke, the request
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    return failures


def test_as_an_owner(api: tuple[Any, str]) -> None:
    failures = fuzz(api[0], {"Authorization": f"Bearer {api[1]}"})
    assert not failures, "\n\n".join(failures)


def test_without_credentials(api: tuple[Any, str]) -> None:
    failures = fuzz(api[0], {})
    assert not failures, "\n\n".join(failures)


def test_the_document_declares_credentials_and_one_error_body(api: tuple[Any, str]) -> None:
    doc = schemathesis.openapi.from_asgi("/openapi.json", api[0]).raw_schema
    schemes = doc["components"]["securitySchemes"]
    assert (schemes["apiKey"]["scheme"], schemes["writeKey"]["scheme"]) == ("bearer", "basic")
    assert (schemes["session"]["in"], schemes["session"]["name"]) == ("cookie", "siyu_session")
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            error = {"$ref": "#/components/schemas/ErrorBody"}
            assert operation["responses"]["422"]["content"]["application/json"]["schema"] == error, where
            assert operation["responses"]["4XX"]["content"]["application/json"]["schema"] == error, where
            if path.startswith("/api/v1/"):
                assert operation["security"] == [{"apiKey": []}, {"session": []}], where
            elif path.startswith("/v1/"):
                assert operation["security"] == [{"writeKey": []}], where


def test_an_invalid_request_names_every_field_without_echoing_the_input(api: tuple[Any, str]) -> None:
    with TestClient(api[0]) as http:
        resp = http.post(
            "/api/v1/users",
            json={"username": "mei", "password": "short-pw", "role": "emperor"},
            headers={"Authorization": f"Bearer {api[1]}"},
        )
    assert resp.status_code == 422
    body = resp.json()
    assert body["detail"].startswith("body.password: ") and "body.role: " in body["detail"]
    assert body["path"] == "body.password"
    assert [e["loc"] for e in body["errors"]] == [["body", "password"], ["body", "role"]]
    assert "short-pw" not in resp.text
