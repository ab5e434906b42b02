"""Every error class answers RFC 9457 problem+json with the same shape, through the real app.

A test-only blueprint (below) adds an open and an authenticated route with a JSON body and a
route raising each ``ServiceError``, so body parsing and every status are covered even where no
real route produces them; the real routes are exercised too, POST routes found from the URL map.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from pydantic import BaseModel, Field
from werkzeug.test import TestResponse

from service import create_app, problems
from service.auth import create_key
from service.contract import endpoint
from service.settings import Settings

MAX_BODY = 256
SERVICE_ERRORS = {
    cls.__name__: cls
    for cls in (
        problems.BadRequest,
        problems.Unauthorized,
        problems.NotFound,
        problems.Conflict,
        problems.UnsupportedMediaType,
        problems.Unprocessable,
        problems.NotReady,
    )
}


class Echo(BaseModel):
    """A body with one constrained field."""

    text: str = Field(min_length=1, max_length=20)


test_bp = Blueprint("error_tests", __name__)


@test_bp.post("/_test/echo")
@endpoint(body=Echo, response=Echo)
def echo(body: Echo) -> Echo:
    """Echo the body."""
    return body


@test_bp.post("/_test/private")
@endpoint(body=Echo, response=Echo, auth=True)
def private(body: Echo) -> Echo:
    """Echo the body to an authenticated caller."""
    return body


@test_bp.get("/_test/raise/<name>")
def raise_error(name: str) -> str:
    """Raise the named service error, or crash on anything else."""
    if name in SERVICE_ERRORS:
        raise SERVICE_ERRORS[name](f"{name} raised on purpose", hint="extension member")
    raise RuntimeError("secret internal state")


def make_app(path: Path, **overrides: object) -> Flask:
    """The real app on a small body limit, plus the test-only blueprint."""
    fields: dict[str, object] = {"max_body_bytes": MAX_BODY, "require_model": False, "rate_limit": ""}
    settings = Settings(database_url=f"sqlite:///{path / 'audit.db'}", **{**fields, **overrides})
    app = create_app(settings)
    app.register_blueprint(test_bp)
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """One real app for the module."""
    return make_app(tmp_path_factory.mktemp("errors"))


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    """Its client."""
    return app.test_client()


@pytest.fixture(scope="module")
def headers(app: Flask) -> dict[str, str]:
    """Authentication for an organisation of its own."""
    return {"Authorization": f"Bearer {create_key(app.extensions['engine'], 'errors-org')}"}


def assert_problem(response: TestResponse, status: int, path: str | None = None) -> dict:
    """The response is a problem+json document of this status; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if path is not None:
        assert body["instance"] == path
    return body


def post_routes(app: Flask) -> list[tuple[str, bool]]:
    """(path, needs auth) of every real POST route taking a JSON body, path arguments filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        contract = getattr(app.view_functions[rule.endpoint], "contract", None)
        real = not rule.rule.startswith("/_test/")
        if real and "POST" in (rule.methods or ()) and contract is not None and contract.body:
            routes.append((re.sub(r"<[^>]+>", "x", rule.rule), contract.auth))
    assert routes, "the app has no POST route with a JSON body"
    return routes


# --- routing -----------------------------------------------------------------------------------


def test_unknown_route_is_404(client: FlaskClient) -> None:
    body = assert_problem(client.get("/no/such/thing"), 404, "/no/such/thing")
    assert "/openapi.json" in body["detail"]


def test_unknown_code_is_404_with_suggestions(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v1/codes/3A001.a.99"), 404, "/v1/codes/3A001.a.99")
    assert body["suggestions"] and body["suggestions"][0]["code"] == "3A001.a"


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.post("/v1/codes/3A001", json={})
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
    assert_problem(client.delete("/healthz"), 405)


# --- request bodies ----------------------------------------------------------------------------


def test_oversize_body_is_413(client: FlaskClient) -> None:
    assert_problem(client.post("/_test/echo", json={"text": "x" * MAX_BODY}), 413, "/_test/echo")


def test_every_real_post_route_refuses_an_oversize_body(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    for path, auth in post_routes(app):
        response = client.post(path, json={"pad": "x" * MAX_BODY}, headers=headers if auth else {})
        assert_problem(response, 413, path)


def test_body_that_is_not_json_is_415(client: FlaskClient) -> None:
    response = client.post("/_test/echo", data="text=hello", content_type="text/plain")
    assert "application/json" in assert_problem(response, 415)["detail"]
    assert_problem(client.post("/_test/echo"), 415)  # no body, no content type


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post("/_test/echo", data='{"text": ', content_type="application/json")
    assert "not valid JSON" in assert_problem(response, 400)["detail"]


def test_invalid_body_is_422_listing_each_field(client: FlaskClient) -> None:
    body = assert_problem(client.post("/_test/echo", json={"text": ""}), 422)
    assert body["errors"][0]["location"] == ["body", "text"]
    assert {"location", "message", "type"} == set(body["errors"][0])
    missing = assert_problem(client.post("/_test/echo", json={}), 422)
    assert missing["errors"][0]["type"] == "missing"


def test_every_real_post_route_answers_bad_bodies_with_problems(
    app: Flask, client: FlaskClient, headers: dict[str, str]
) -> None:
    for path, auth in post_routes(app):
        sent = headers if auth else {}
        assert_problem(client.post(path, data="x", content_type="text/plain", headers=sent), 415)
        assert_problem(client.post(path, data="{", content_type="application/json", headers=sent), 400)
        assert_problem(client.post(path, json=[], headers=sent), 422)


def test_invalid_query_is_422(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v1/codes?q=gallium&limit=0"), 422, "/v1/codes")
    assert body["errors"][0]["location"] == ["query", "limit"]


def test_invalid_path_parameter_is_422(client: FlaskClient) -> None:
    body = assert_problem(client.get("/v1/hs/85x"), 422)
    assert body["errors"][0]["location"] == ["path", "hs_code"]


# --- authentication, service errors, crashes, rate limits --------------------------------------


def test_missing_api_key_is_401_with_challenge(client: FlaskClient) -> None:
    response = client.post("/_test/private", json={"text": "hi"})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    unknown = client.post("/_test/private", json={"text": "hi"}, headers={"X-API-Key": "nope"})
    assert_problem(unknown, 401)


def test_valid_api_key_passes(client: FlaskClient, headers: dict[str, str]) -> None:
    assert client.post("/_test/private", json={"text": "hi"}, headers=headers).get_json() == {"text": "hi"}


@pytest.mark.parametrize("name", sorted(SERVICE_ERRORS))
def test_each_service_error_renders_its_status_title_and_extensions(client: FlaskClient, name: str) -> None:
    error = SERVICE_ERRORS[name]
    body = assert_problem(client.get(f"/_test/raise/{name}"), error.status, f"/_test/raise/{name}")
    assert body["title"] == error.title
    assert body["detail"] == f"{name} raised on purpose"
    assert body["hint"] == "extension member"


def test_unexpected_exception_is_500_without_internals(client: FlaskClient) -> None:
    body = assert_problem(client.get("/_test/raise/crash"), 500)
    assert "secret" not in body["detail"] and "Traceback" not in body["detail"]


def test_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    client = make_app(tmp_path, rate_limit="1/minute").test_client()
    assert client.get("/v1/codes/1C902").status_code == 200
    response = client.get("/v1/codes/1C902")
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0
