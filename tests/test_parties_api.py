"""POST /v1/parties/screen and GET /v1/rules over HTTP, on the real app.

These endpoints only read, so one app (on its own SQLite file) serves the whole module.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app
from service.auth import create_key
from service.parties import PartyScreener
from service.rules import RuleEngine
from service.settings import Settings as AppSettings


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The real app, built once for this module."""
    database = tmp_path_factory.mktemp("parties_api") / "audit.db"
    return create_app(AppSettings(database_url=f"sqlite:///{database}", log_json=True))


@pytest.fixture(scope="module")
def auth_headers(app: Flask) -> dict[str, str]:
    """Headers with a key of a fresh organisation."""
    return {"Authorization": f"Bearer {create_key(app.extensions['engine'], 'screening-org')}"}


def screen(client: FlaskClient, headers: dict[str, str], body: Any) -> Any:
    """POST a screening request; return the response."""
    return client.post("/v1/parties/screen", json=body, headers=headers)


def test_screening_returns_hits_per_name_in_request_order(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    """Each name gets its own result; an unlisted name gets an empty list."""
    names = ["三菱重工航空發動機株式會社", "Acme Trading GmbH", "NEC Network and Sensor Systems"]
    response = screen(client, auth_headers, {"names": names})
    assert response.status_code == 200
    body = response.get_json()
    assert [r["name"] for r in body["results"]] == names
    assert body["threshold"] == 0.88
    assert body["reference_data"].startswith("sha256:")
    assert "not legal advice" in body["notice"]
    first, second, third = (r["hits"] for r in body["results"])
    assert first[0]["entity"] == "Mitsubishi Heavy Industries Aero Engines, Ltd."
    assert first[0]["list"] == "control" and first[0]["verified"] is True
    assert second == []
    assert third[0]["verified"] is False


def test_threshold_can_be_set_per_request(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    """A lower threshold reports weaker matches and is echoed back."""
    default = screen(client, auth_headers, {"names": ["Huntington Ingalls"]}).get_json()
    wide = screen(client, auth_headers, {"names": ["Huntington Ingalls"], "threshold": 0.75}).get_json()
    assert default["results"][0]["hits"] == []
    assert wide["threshold"] == 0.75
    assert wide["results"][0]["hits"][0]["entity"] == "Huntington Ingalls Industries, Inc."


def test_screening_needs_an_api_key(client: FlaskClient) -> None:
    """No key, no screening: 401 problem+json."""
    response = screen(client, {}, {"names": ["JAXA"]})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"names": []},
        {"names": ["x"] * 51},
        {"names": ["x" * 301]},
        {"names": ["   "]},
        {"names": [""]},
        {"names": "JAXA"},
        {"names": ["JAXA"], "threshold": 0.4},
        {"names": ["JAXA"], "threshold": 1.5},
        {"names": ["JAXA"], "country": "JP"},
        {},
    ],
)
def test_invalid_bodies_are_422(client: FlaskClient, auth_headers: dict[str, str], body: Any) -> None:
    """Out-of-range input is a 422 problem with field errors, never a 500."""
    response = screen(client, auth_headers, body)
    assert response.status_code == 422
    assert response.get_json()["errors"]


def test_limits_are_inclusive(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    """50 names of 300 characters and threshold 0.5 or 1.0 are accepted."""
    assert screen(client, auth_headers, {"names": ["y" * 300] * 50}).status_code == 200
    for threshold in (0.5, 1.0):
        assert screen(client, auth_headers, {"names": ["JAXA"], "threshold": threshold}).status_code == 200


def test_rules_lists_rule_sets_with_versions_and_suspensions(client: FlaskClient, app: Flask) -> None:
    """GET /v1/rules is open, carries the engine version and reports suspensions by date."""
    during = client.get("/v1/rules?as_of=2026-11-27").get_json()
    after = client.get("/v1/rules?as_of=2026-11-28").get_json()
    assert during["version"] == app.extensions["rules"].version
    rules = {r["id"]: r for rs in during["rulesets"] for r in rs["rules"]}
    assert {"R01", "R05", "R11", "R12", "R18"} <= rules.keys()
    assert rules["R11"]["suspended_until"] == "2026-11-27" and rules["R11"]["in_force"] is False
    assert "Announcement No. 72 of 2025" in rules["R11"]["citation"]
    after_rules = {r["id"]: r for rs in after["rulesets"] for r in rs["rules"]}
    assert after_rules["R11"]["in_force"] is True
    assert all(rs["data_as_of"] == "2026-06-29" for rs in during["rulesets"])


def test_rules_rejects_a_bad_date(client: FlaskClient) -> None:
    """A malformed as_of is a 422, not a 500."""
    assert client.get("/v1/rules?as_of=tomorrow").status_code == 422


def test_app_exposes_the_engine_and_screener_and_reports_them_ready(
    client: FlaskClient, app: Flask
) -> None:
    """Other areas use app.extensions; /readyz shows both checks and the rules version."""
    assert isinstance(app.extensions["rules"], RuleEngine)
    assert isinstance(app.extensions["parties"], PartyScreener)
    body = client.get("/readyz").get_json()
    assert body["checks"]["rules"] == "ok" and body["checks"]["parties"] == "ok"
    assert body["versions"]["rules"] == app.extensions["rules"].version


def test_screening_is_in_the_openapi_contract(client: FlaskClient) -> None:
    """The contract documents the endpoint, its key requirement and the threshold range."""
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/v1/parties/screen"]["post"]
    assert operation["security"]
    threshold = spec["components"]["schemas"]["ScreenRequest"]["properties"]["threshold"]
    assert "0.88" in threshold["description"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(max_size=320), min_size=0, max_size=3), threshold=st.floats())
def test_any_names_and_threshold_give_200_or_422(
    client: FlaskClient, auth_headers: dict[str, str], names: list[str], threshold: float
) -> None:
    """Arbitrary Unicode names and any float threshold: a result or a 422, never a 5xx."""
    body: dict[str, Any] = {"names": names}
    if threshold == threshold and abs(threshold) != float("inf"):  # JSON has no NaN or infinity
        body["threshold"] = threshold
    response = screen(client, auth_headers, body)
    assert response.status_code in (200, 422)
