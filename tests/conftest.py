"""Shared fixtures. Every test that uses ``ctx`` runs on SQLite, and again on PostgreSQL when
``SIYU_TEST_DATABASE_URL`` is set (each PostgreSQL test gets its own schema, dropped after)."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from siyu.config import Settings
from siyu.context import AppContext

PG_URL = os.environ.get("SIYU_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
TEST_KEY = base64.b64encode(b"k" * 32).decode()
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


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
