"""The app factory, health, contract, request ids, metrics and rate limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.__main__ import main as service_cli
from service.settings import Settings


def test_factory_honours_settings(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", max_body_bytes=1234)
    app = create_app(settings)
    assert app.config["MAX_CONTENT_LENGTH"] == 1234
    assert app.extensions["settings"] is settings
    assert (tmp_path / "a.db").exists()


def test_database_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Settings().database_url == "postgresql+psycopg://u@h/db"


def test_healthz_is_always_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_lists_checks_and_versions(client: FlaskClient) -> None:
    body = client.get("/readyz").json
    assert body["checks"]["database"] == "ok"
    assert body["versions"]["reference_data"].startswith("sha256:")


def test_readyz_is_503_when_the_database_is_gone(app: Flask, tmp_path: Path) -> None:
    app.extensions["engine"].dispose()
    app.extensions["readiness"]["database"] = lambda: "database unavailable: test"
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "not_ready"


def test_openapi_is_generated_from_the_contracts(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert "/healthz" in spec["paths"]
    assert "Problem" in spec["components"]["schemas"]
    for path in spec["paths"]:
        assert "<" not in path, path


def test_docs_page_lists_operations(client: FlaskClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert "/healthz" in response.get_data(as_text=True)


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert made != "bad id <script>" and len(made) == 32


def test_metrics_count_requests(client: FlaskClient) -> None:
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'duc_http_requests_total{endpoint="/healthz",status="200"}' in text
    assert "duc_model_info" in text


def test_rate_limit_answers_429_problem_with_retry_after(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}", rate_limit="2/minute"))
    client = app.test_client()
    headers = {"X-API-Key": "some-key"}
    assert [client.get("/docs", headers=headers).status_code for _ in range(2)] == [200, 200]
    limited = client.get("/docs", headers=headers)
    assert limited.status_code == 429
    assert limited.content_type == "application/problem+json"
    assert int(limited.headers["Retry-After"]) > 0
    assert "Rate limit exceeded" in limited.json["detail"]
    assert client.get("/docs", headers={"X-API-Key": "another-key"}).status_code == 200
    assert client.get("/healthz", headers=headers).status_code == 200


def test_create_key_cli_prints_a_key_that_authenticates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert service_cli(["create-key", "Acme Export Ltd"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    app = create_app(Settings(database_url=url))
    with app.test_request_context(headers={"X-API-Key": key}):
        from flask import request

        assert app.extensions["auth"].authenticate(request).name == "Acme Export Ltd"


def test_rate_limit_is_shared_by_workers_through_redis(tmp_path: Path) -> None:
    """Two apps (as two gunicorn workers would be) count one key's requests together."""
    import os
    import uuid

    redis_url = os.environ.get("TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("TEST_REDIS_URL not set")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'r.db'}",
        rate_limit="3/minute",
        rate_limit_storage_url=redis_url,
    )
    workers = [create_app(settings).test_client() for _ in range(2)]
    headers = {"X-API-Key": f"shared-{uuid.uuid4().hex}"}
    statuses = [workers[i % 2].get("/docs", headers=headers).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_metrics_count_classifier_labels_and_outcomes(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    client.post("/v1/classify", json={"description": "Gallium metal 6N, 1 kg"}, headers=auth_headers)
    client.post("/v1/assessments", headers=auth_headers, json={
        "item": {"code": "1C902"}, "destination": "JP", "end_user": {"type": "military"},
        "end_use": "military", "exporter_country": "CN", "chinese_origin": True,
    })
    text = client.get("/metrics").get_data(as_text=True)
    assert "duc_classifications_total{label=" in text
    assert 'duc_assessment_outcomes_total{outcome="PROHIBITED"' in text
