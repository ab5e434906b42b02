"""Hostile input never yields a 5xx: schemathesis over the contract, hypothesis over raw bodies.

Bounded example counts keep the whole file to well under a minute.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app
from service.auth import create_key
from service.settings import Settings

HOSTILE_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# One app for the whole module (schemathesis needs it at collection), rate limits off.
APP = create_app(Settings(
    database_url=f"sqlite:///{Path(tempfile.mkdtemp(prefix='duc-hostile-')) / 'audit.db'}",
    rate_limit="",
    bench_endpoint=True,
))
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def hostile_app() -> Flask:
    """The module's app."""
    return APP


@pytest.fixture(scope="module")
def hostile_key(hostile_app: Flask) -> str:
    """A valid key so fuzzing reaches past authentication."""
    return create_key(hostile_app.extensions["engine"], "fuzzer")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_honours_its_contract(case: schemathesis.Case, hostile_key: str) -> None:
    """No 5xx, and every response (errors included) matches the documented schema."""
    case.call_and_validate(headers={"Authorization": f"Bearer {hostile_key}"})


def post_routes(app: Flask) -> list[str]:
    """Every POST route, path parameters filled with a plausible value."""
    routes = []
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()):
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<{arg}>", "asm_x").replace(f"<string:{arg}>", "asm_x")
            routes.append(path)
    return sorted(routes)


def assert_problem(response, *, allowed: tuple[int, ...] = ()) -> None:
    """An error is problem+json with a detail; nothing is a 5xx."""
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        assert response.content_type == "application/problem+json"
        assert response.json["detail"]
    if allowed:
        assert response.status_code in allowed


@given(body=st.binary(max_size=2048))
@HOSTILE_SETTINGS
def test_arbitrary_bytes_as_json_never_break_a_post_route(
    hostile_app: Flask, hostile_key: str, body: bytes
) -> None:
    client = hostile_app.test_client()
    for path in post_routes(hostile_app):
        response = client.post(
            path, data=body, content_type="application/json",
            headers={"Authorization": f"Bearer {hostile_key}"},
        )
        assert_problem(response)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=20,
)


@given(payload=st.dictionaries(st.sampled_from(
    ["description", "items", "item", "names", "destination", "end_use", "threshold", "id", "code"]
), json_values, max_size=5))
@HOSTILE_SETTINGS
def test_wrong_types_give_422_not_500(hostile_app: Flask, hostile_key: str, payload: dict) -> None:
    client = hostile_app.test_client()
    for path in post_routes(hostile_app):
        response = client.post(path, json=payload, headers={"Authorization": f"Bearer {hostile_key}"})
        assert_problem(response)


@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
@HOSTILE_SETTINGS
def test_any_unicode_in_queries_and_paths_is_handled(hostile_app: Flask, text: str) -> None:
    client = hostile_app.test_client()
    for url in ("/v1/codes", "/v1/codes/", "/v1/hs/"):
        response = client.get(url + text.replace("?", "").replace("#", "")) if url.endswith("/") else \
            client.get(url, query_string={"q": text})
        assert_problem(response)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\xfa invalid utf-8 \xc3\x28",
        b'{"description": "\xed\xa0\x80 lone surrogate"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"description": "' + "\u202e\u200f\u0000\u0007 rtl and control".encode() + b'"}',
        b"",
        b"null",
        b"123",
    ],
    ids=["invalid-utf8", "surrogate", "deeply-nested", "rtl-control", "empty", "null", "number"],
)
def test_pathological_bodies(hostile_app: Flask, hostile_key: str, body: bytes) -> None:
    client = hostile_app.test_client()
    for path in post_routes(hostile_app):
        response = client.post(
            path, data=body, content_type="application/json",
            headers={"Authorization": f"Bearer {hostile_key}"},
        )
        assert_problem(response, allowed=(400, 401, 404, 413, 422))


def test_a_body_over_the_limit_is_413(hostile_app: Flask, hostile_key: str) -> None:
    big = json.dumps({"description": "x" * (hostile_app.config["MAX_CONTENT_LENGTH"] + 10)})
    for path in post_routes(hostile_app):
        response = hostile_app.test_client().post(
            path, data=big, content_type="application/json",
            headers={"Authorization": f"Bearer {hostile_key}"},
        )
        assert_problem(response, allowed=(413,))


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_wrong_content_types_are_415(hostile_app: Flask, hostile_key: str, content_type: str) -> None:
    for path in post_routes(hostile_app):
        response = hostile_app.test_client().post(
            path, data=b'{"description": "x"}', content_type=content_type,
            headers={"Authorization": f"Bearer {hostile_key}"},
        )
        assert_problem(response, allowed=(401, 404, 415))


def test_routes_exist(hostile_app: Flask) -> None:
    """The fuzzing above reaches at least the benchmark route."""
    assert "/bench/bare" in post_routes(hostile_app)
