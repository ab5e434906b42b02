"""Fixtures: every test app gets its own SQLite file (or TEST_DATABASE_URL) and real data.

The shipped reference data and rules are used as they are; models are trained in temp dirs
by the tests that need them, except the API tests, which use the shipped artifact.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from service import create_app
from service.auth import create_key
from service.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a test app on a fresh SQLite file."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'audit.db'}", log_json=True)


@pytest.fixture
def app(settings: Settings) -> Flask:
    """The real app on test settings."""
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def api_key(app: Flask) -> str:
    """A key for a fresh organisation."""
    return create_key(app.extensions["engine"], f"org-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def auth_headers(api_key: str) -> dict[str, str]:
    """Headers that authenticate as that organisation."""
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture(scope="session")
def fresh_postgres() -> Callable[[], str]:
    """A function that empties the TEST_DATABASE_URL database and returns its URL (skip if unset)."""

    def reset() -> str:
        url = os.environ.get("TEST_DATABASE_URL")
        if not url:
            pytest.skip("TEST_DATABASE_URL not set")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url

    return reset


@pytest.fixture
def pg_url(fresh_postgres: Callable[[], str]) -> str:
    """An emptied PostgreSQL database URL, or skip when none is configured."""
    return fresh_postgres()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh SQLite file, or the fresh PostgreSQL database of ``pg_url``."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'audit.db'}"
