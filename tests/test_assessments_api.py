"""POST/GET /v1/assessments and reviews, end to end on the real app, model, rules and data.

Each decision must be recorded before it is answered, readable only by its organisation, and
carry its reasons, citations and versions. Descriptions whose model label matters are picked
by asking the shipped model, so these tests keep meaning the same thing after a retrain. The
app (model, data, rules) is built once per module; each test works as an organisation of its
own, which is exactly the isolation under test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.schemas import NOTICE
from service.settings import Settings
from training.reviews import export_reviews

DESIGN_EXAMPLE: dict[str, Any] = {
    "item": {
        "description": "Sm2Co17 samarium-cobalt permanent magnet rings, 28 MGOe, for servo motors",
        "code": None,
        "hs_code": "8505111000",
    },
    "destination": "JP",
    "end_user": {
        "name": "Mitsubishi Heavy Industries Aero Engines", "country": "JP", "type": "unknown"
    },
    "end_use": "unknown",
    "exporter_country": "CN",
    "chinese_origin": True,
    "reference": "PO-4711",
}
CIVIL_JAPAN: dict[str, Any] = {
    "destination": "JP",
    "end_user": {"name": "Tokyo Precision Motors K.K.", "country": "JP", "type": "civil"},
    "end_use": "civil",
}
SEVERITY = [
    "NO_LICENCE_REQUIRED", "REGISTRATION", "NEEDS_REVIEW", "LICENCE_REQUIRED",
    "LICENCE_REQUIRED_INDIVIDUAL", "STOP_AND_REPORT", "PROHIBITED",
]


def headers_for(app: Flask, org: str | None = None) -> dict[str, str]:
    """Auth headers for a fresh key of ``org`` (a new organisation by default)."""
    from service.auth import create_key

    key = create_key(app.extensions["engine"], org or f"org-{uuid.uuid4().hex[:8]}")
    return {"Authorization": f"Bearer {key}"}


def assess(client: FlaskClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """POST one assessment; it must be created."""
    response = client.post("/v1/assessments", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def description_labelled(app: Flask, label: str) -> str:
    """A realistic description the shipped model gives ``label`` (skip if there is none)."""
    classifier = app.extensions.get("classifier")
    if classifier is None:
        pytest.skip("no model loaded")
    path = Path(__file__).parent / "data" / "dev_products.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        text = json.loads(line)["text"]
        if classifier.classify(text).dual_use["label"] == label:
            return text
    pytest.skip(f"the shipped model labels no dev description {label!r}")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fresh_postgres: Callable[[], str],
) -> Iterator[Flask]:
    """The real app on a fresh SQLite file or PostgreSQL schema, shared by this module's tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('assessments') / 'audit.db'}"
    else:
        url = fresh_postgres()
    app = create_app(Settings(database_url=url))
    yield app
    app.extensions["engine"].dispose()


@pytest.fixture
def audit(app: Flask) -> Iterator[Any]:
    """The app's audit store, checked intact after the test."""
    store = app.extensions["audit"]
    yield store
    report = store.verify()
    assert report.ok, report.summary()


def test_design_example_is_prohibited_with_the_control_list_rule(
    client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    response = client.post("/v1/assessments", json=DESIGN_EXAMPLE, headers=auth_headers)
    assert response.status_code == 201
    decision = response.get_json()
    assert response.headers["Location"] == f"/v1/assessments/{decision['id']}"
    assert decision["id"].startswith("asm_") and len(decision["id"]) == 30
    assert decision["outcome"] == "PROHIBITED"
    r01 = next(r for r in decision["reasons"] if r["rule"] == "R01")
    assert r01["outcome"] == "PROHIBITED"
    assert "Announcement No. 11 of 2026" in r01["citation"]
    assert r01["explanation"]
    [hit] = [h for h in decision["party_hits"] if h["party"] == "end_user"]
    assert hit["list"] == "control" and hit["score"] >= 0.88
    assert decision["classification"]["source"] == "classifier"
    assert decision["classification"]["dual_use"]["label"] == "likely_dual_use"
    assert decision["versions"]["model"] not in ("", "none")
    assert decision["versions"]["rules"].startswith("cn-")
    assert decision["versions"]["reference_data"].startswith("sha256:")
    assert decision["notice"] == NOTICE
    assert decision["reference"] == "PO-4711"
    assert audit.get(audit_org(audit, decision["id"]), decision["id"]).response["outcome"] == (
        "PROHIBITED"
    )


def test_a_given_code_decides_and_the_decision_says_so(
    client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    decision = assess(client, auth_headers, {**CIVIL_JAPAN, "item": {"code": "1c902.A"}})
    assert decision["classification"]["source"] == "given_code"
    assert decision["classification"]["code"] == "1C902.a"
    assert decision["classification"]["status"] == "cn_listed"
    assert decision["outcome"] == "LICENCE_REQUIRED"
    assert [r["rule"] for r in decision["reasons"]] == ["R13"]
    assert decision["versions"]["model"] == "none"  # no description, so no model involved


def test_an_unknown_code_is_422_with_suggestions(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post(
        "/v1/assessments", json={**CIVIL_JAPAN, "item": {"code": "1C99"}}, headers=auth_headers
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert "1C99" in problem["detail"]
    assert problem["suggestions"] and all(s.startswith("1C99") for s in problem["suggestions"])


def test_without_a_code_the_classifier_proposes_and_the_decision_says_so(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    text = description_labelled(app, "likely_dual_use")
    decision = assess(client, auth_headers, {**CIVIL_JAPAN, "item": {"description": text}})
    classification = decision["classification"]
    proposal = app.extensions["classifier"].classify(text)
    assert classification["source"] == "classifier"
    assert classification["dual_use"]["label"] == "likely_dual_use"
    assert classification["code"] == proposal.candidates[0]["code"]
    assert classification["candidates"][0]["code"] == proposal.candidates[0]["code"]
    assert decision["versions"]["model"] == proposal.model["version"]
    assert SEVERITY.index(decision["outcome"]) > 0  # a likely dual-use item is never cleared


def test_needs_review_from_the_model_is_at_least_needs_review(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    text = description_labelled(app, "needs_review")
    decision = assess(client, auth_headers, {
        "item": {"description": text}, "destination": "DE",
        "end_user": {"type": "civil"}, "end_use": "civil",
    })
    assert decision["classification"]["status"] == "unknown"
    assert SEVERITY.index(decision["outcome"]) >= SEVERITY.index("NEEDS_REVIEW")


def test_likely_not_controlled_civil_export_needs_no_licence(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    text = description_labelled(app, "likely_not_controlled")
    decision = assess(client, auth_headers, {**CIVIL_JAPAN, "item": {"description": text}})
    assert decision["classification"]["status"] == "not_listed"
    assert decision["outcome"] == "NO_LICENCE_REQUIRED"


def test_without_a_model_codes_still_work_and_descriptions_are_503(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As when the service runs with no verified model (DUC_REQUIRE_MODEL=false).
    monkeypatch.setitem(app.extensions, "classifier", None)
    coded = assess(client, auth_headers, {
        **CIVIL_JAPAN, "item": {"code": "1C902.a", "description": "SmCo magnets"}
    })
    assert coded["versions"]["model"] == "none"
    response = client.post(
        "/v1/assessments", json={**CIVIL_JAPAN, "item": {"description": "SmCo magnets"}},
        headers=auth_headers,
    )
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"


def test_get_returns_the_recorded_decision(
    client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    created = assess(client, auth_headers, {**CIVIL_JAPAN, "item": {"code": "1C902.a"}})
    response = client.get(f"/v1/assessments/{created['id']}", headers=auth_headers)
    assert response.status_code == 200
    assert response.get_json() == {**created, "reviews": []}
    record = audit.get(audit_org(audit, created["id"]), created["id"])
    assert record.request["item"] == {"code": "1C902.a", "description": None, "hs_code": None}
    assert record.response == {k: v for k, v in created.items() if k != "reviews"}
    assert record.versions == created["versions"]


def audit_org(audit: Any, assessment_id: str) -> int:
    """The organisation an assessment was recorded for."""
    from sqlalchemy import select

    from service.audit import assessments

    with audit.engine.connect() as conn:
        return int(conn.scalar(
            select(assessments.c.org_id).where(assessments.c.id == assessment_id)
        ))


def test_an_organisation_cannot_see_or_review_another_ones_assessment(
    app: Flask, client: FlaskClient
) -> None:
    org_a, org_b = headers_for(app), headers_for(app)
    created = assess(client, org_a, {**CIVIL_JAPAN, "item": {"code": "1C902.a"}})
    path = f"/v1/assessments/{created['id']}"
    stolen = client.get(path, headers=org_b)
    missing = client.get("/v1/assessments/asm_01ABCDEFGHJKMNPQRSTVWXYZ01", headers=org_b)
    assert stolen.status_code == missing.status_code == 404
    assert stolen.mimetype == "application/problem+json"
    review = client.post(f"{path}/review", json={"reviewer": "eve", "verdict": "confirmed"},
                         headers=org_b)
    assert review.status_code == 404
    assert client.get(path, headers=org_a).status_code == 200


def test_review_round_trip(
    client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    created = assess(client, auth_headers, {**CIVIL_JAPAN, "item": {
        "code": "1C902.a", "description": "Sintered NdFeB magnet blocks N52, 40x20x10 mm",
    }})
    path = f"/v1/assessments/{created['id']}"
    response = client.post(f"{path}/review", headers=auth_headers, json={
        "reviewer": "K. Tanaka", "verdict": "corrected", "code": "1c902.b",
        "note": "NdFeB, not SmCo: sub-item b",
    })
    assert response.status_code == 201
    review = response.get_json()
    assert review["id"].startswith("rev_")
    assert (review["code"], review["dual_use"]) == ("1C902.b", True)  # from the catalogue
    stored = client.get(path, headers=auth_headers).get_json()
    assert [r["id"] for r in stored["reviews"]] == [review["id"]]
    assert stored["outcome"] == created["outcome"]  # the decision itself never changes


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"reviewer": "x", "verdict": "corrected"}, "correction gives"),
        ({"reviewer": "x", "verdict": "approved"}, "verdict"),
        ({"reviewer": "", "verdict": "confirmed"}, "reviewer"),
        ({"reviewer": "x", "verdict": "corrected", "code": "9Z999"}, "9Z999"),
        ({"reviewer": "x", "verdict": "confirmed", "note": "n" * 2001}, "note"),
    ],
)
def test_invalid_reviews_are_422(
    client: FlaskClient, auth_headers: dict[str, str], body: dict[str, Any], fragment: str
) -> None:
    created = assess(client, auth_headers, {**CIVIL_JAPAN, "item": {"code": "1C902.a"}})
    response = client.post(f"/v1/assessments/{created['id']}/review", json=body,
                           headers=auth_headers)
    assert response.status_code == 422
    assert fragment in json.dumps(response.get_json())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"item": {}}, "item"),
        ({"item": {"description": "   "}}, "item"),
        ({"item": {"description": "x" * 10_001}}, "description"),
        ({"item": {"code": "1C902.a", "hs_code": "85A5"}}, "hs_code"),
        ({"destination": "Japan"}, "destination"),
        ({"end_use": "peaceful"}, "end_use"),
        ({"end_user": {"type": "civil", "nickname": "x"}}, "nickname"),
        ({"reference": "R" * 101}, "reference"),
        ({"red_flags": ["use_changed"] * 11}, "red_flags"),
        ({"as_of": "next tuesday"}, "as_of"),
        ({"shipment_value": 10}, "shipment_value"),
    ],
)
def test_invalid_requests_are_422_problems(
    client: FlaskClient, auth_headers: dict[str, str], change: dict[str, Any], field: str
) -> None:
    body = {**CIVIL_JAPAN, "item": {"code": "1C902.a"}, **change}
    response = client.post("/v1/assessments", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in json.dumps(response.get_json()["errors"])


def test_every_answered_assessment_is_recorded_and_the_chain_holds(
    client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    bodies = [
        {**CIVIL_JAPAN, "item": {"code": code}, "reference": f"PO-{n}"}
        for n, code in enumerate(["1C902.a", "3A001", "1C350", "9A012", "CN-NAT-023-2023-02"])
    ]
    before = audit.verify().count
    ids = [assess(client, auth_headers, body)["id"] for body in bodies]
    assert audit.verify().count == before + len(ids)
    assert [audit.get(audit_org(audit, i), i).reference for i in ids] == [
        f"PO-{n}" for n in range(len(ids))
    ]


def test_as_of_selects_the_rules_in_force(
    client: FlaskClient, auth_headers: dict[str, str], audit: Any
) -> None:
    body = {**DESIGN_EXAMPLE, "item": {"code": "1C902.a"}}
    today = assess(client, auth_headers, body)
    before = assess(client, auth_headers, {**body, "as_of": "2025-06-01"})
    assert before["as_of"] == "2025-06-01"
    assert "R05" in {r["rule"] for r in today["reasons"]}
    assert "R05" not in {r["rule"] for r in before["reasons"]}  # Ann. 1/2026 not yet in force


def test_export_reviews_turns_reviews_into_training_lines(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], tmp_path: Path, audit: Any
) -> None:
    described = {**CIVIL_JAPAN, "item": {"code": "1C902.a", "description": "钐钴永磁环 Sm2Co17"}}
    corrected = assess(client, auth_headers, described)
    confirmed = assess(client, auth_headers, {
        **CIVIL_JAPAN, "item": {"code": "1C902.a", "description": "SmCo5 magnet discs, 20 MGOe"}
    })
    code_only = assess(client, auth_headers, {**CIVIL_JAPAN, "item": {"code": "1C902.a"}})
    reviews = [
        (corrected, {"verdict": "confirmed"}),
        (corrected, {"verdict": "corrected", "dual_use": False, "note": "demagnetised scrap"}),
        (confirmed, {"verdict": "confirmed", "note": "datasheet checked"}),
        (code_only, {"verdict": "confirmed"}),
    ]
    for decision, review in reviews:
        response = client.post(f"/v1/assessments/{decision['id']}/review", headers=auth_headers,
                               json={"reviewer": "K. Tanaka", **review})
        assert response.status_code == 201

    org = audit_org(audit, corrected["id"])
    result = export_reviews(audit, tmp_path, day=date(2026, 11, 28), org_id=org)
    assert result.path == tmp_path / "reviews-2026-11-28.jsonl"
    lines = [json.loads(line) for line in result.path.read_text(encoding="utf-8").splitlines()]
    assert (result.written, result.skipped) == (2, 1)  # the code-only assessment has no text
    assert lines == [
        {
            "id": lines[0]["id"], "text": "钐钴永磁环 Sm2Co17", "lang": "zh", "dual_use": False,
            "code": None, "rationale": lines[0]["rationale"], "source": "review",
        },
        {
            "id": lines[1]["id"], "text": "SmCo5 magnet discs, 20 MGOe", "lang": "en",
            "dual_use": True, "code": "1C902.a", "rationale": lines[1]["rationale"],
            "source": "review",
        },
    ]
    assert "demagnetised scrap" in lines[0]["rationale"]


def test_export_reviews_command_writes_the_day_file(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from training.__main__ import main as training_cli

    created = assess(client, auth_headers, {
        **CIVIL_JAPAN, "item": {"code": "1C902.a", "description": "SmCo magnet rings"}
    })
    client.post(f"/v1/assessments/{created['id']}/review", headers=auth_headers,
                json={"reviewer": "K. Tanaka", "verdict": "confirmed"})
    url = app.extensions["settings"].database_url
    assert training_cli(
        ["export-reviews", "--reviews-dir", str(tmp_path), "--database-url", url]
    ) == 0
    [written] = tmp_path.glob("reviews-*.jsonl")
    texts = [json.loads(line)["text"] for line in written.read_text(encoding="utf-8").splitlines()]
    assert "SmCo magnet rings" in texts
    assert f"to {written}" in capsys.readouterr().out
    assert training_cli(["export-reviews", "--reviews-dir", str(tmp_path), "--database-url", url,
                         "--organisation", "no such org"]) == 1
