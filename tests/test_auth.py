"""API keys: per organisation, shown once, stored hashed; every protected route answers 401
problem+json without a valid key, and health, readiness, docs and code lookup stay open."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service import create_app
from service.auth import api_keys, create_key, hash_key, organisations
from service.settings import Settings

PROTECTED = [
    ("POST", "/v1/assessments"),
    ("GET", "/v1/assessments/asm_01ABCDEFGHJKMNPQRSTVWXYZ01"),
    ("POST", "/v1/assessments/asm_01ABCDEFGHJKMNPQRSTVWXYZ01/review"),
    ("POST", "/v1/classify"),
    ("POST", "/v1/classify/batch"),
    ("POST", "/v1/parties/screen"),
]
OPEN = ["/healthz", "/openapi.json", "/docs", "/v1/codes/1C902"]
MISSING_ASSESSMENT = "/v1/assessments/asm_01ABCDEFGHJKMNPQRSTVWXYZ01"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The real app, built once for this module (loading model and data takes a while)."""
    database = tmp_path_factory.mktemp("auth") / "audit.db"
    return create_app(Settings(database_url=f"sqlite:///{database}"))


def assert_401_problem(response: object) -> None:
    """A 401 in RFC 9457 form that tells the caller how to authenticate."""
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")  # type: ignore[attr-defined]
    body = response.get_json()  # type: ignore[attr-defined]
    assert body["status"] == 401 and body["title"] == "Unauthorized" and body["detail"]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_protected_routes_need_a_key(client: FlaskClient, method: str, path: str) -> None:
    assert_401_problem(client.open(path, method=method, json={}))


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer duc_not-a-real-key"},
        {"X-API-Key": "duc_not-a-real-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"X-API-Key": ""},
    ],
    ids=["wrong-bearer", "wrong-x-api-key", "basic-scheme", "empty-bearer", "empty-x-api-key"],
)
def test_a_wrong_or_malformed_key_is_401(client: FlaskClient, headers: dict[str, str]) -> None:
    assert_401_problem(client.get(MISSING_ASSESSMENT, headers=headers))


def test_the_key_is_checked_before_the_body(client: FlaskClient) -> None:
    """An anonymous caller learns nothing about validation from a malformed body."""
    response = client.post("/v1/assessments", data="{not json", content_type="application/json")
    assert_401_problem(response)


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_bearer_and_x_api_key_both_authenticate(
    client: FlaskClient, api_key: str, header: str
) -> None:
    headers = (
        {"Authorization": f"Bearer {api_key}"} if header == "bearer" else {"X-API-Key": api_key}
    )
    response = client.get(MISSING_ASSESSMENT, headers=headers)
    assert response.status_code == 404  # authenticated: the assessment just does not exist
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("path", OPEN)
def test_health_docs_and_code_lookup_are_open(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_keys_are_stored_hashed_never_in_plain(app: Flask) -> None:
    engine = app.extensions["engine"]
    key = create_key(engine, "Acme Export Ltd")
    with engine.connect() as conn:
        stored = conn.execute(
            select(api_keys).where(api_keys.c.key_hash == hash_key(key))
        ).mappings().one()
        everything = conn.execute(select(api_keys)).all()
    assert stored["key_hash"] == hash_key(key) != key
    assert stored["prefix"] == key[:12]  # enough to recognise a key, not to use it
    assert all(key not in str(value) for row in everything for value in row)


def test_each_call_makes_a_new_key_for_the_same_organisation(
    app: Flask, client: FlaskClient
) -> None:
    engine = app.extensions["engine"]
    first, second = create_key(engine, "Acme"), create_key(engine, "Acme")
    assert first != second
    with engine.connect() as conn:
        orgs = conn.execute(
            select(organisations.c.name).where(organisations.c.name == "Acme")
        ).scalars().all()
    assert orgs == ["Acme"]
    for key in (first, second):
        assert client.get(MISSING_ASSESSMENT, headers={"X-API-Key": key}).status_code == 404


def test_create_key_rejects_an_empty_organisation(app: Flask) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        create_key(app.extensions["engine"], "   ")


def test_every_route_declared_with_auth_is_marked_secure_in_openapi(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    for method, path in PROTECTED:
        template = path.replace("asm_01ABCDEFGHJKMNPQRSTVWXYZ01", "{assessment_id}")
        operation = spec["paths"][template][method.lower()]
        assert {"bearer": []} in operation["security"], f"{method} {template}"
