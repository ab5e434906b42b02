"""POST /v1/classify, /v1/classify/batch and GET /v1/model on the shipped model.

These are the only tests that read ``artifacts/``: the API is specified against the model that
``make serve`` serves. Bad input of any kind answers problem+json, never a 500.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.artifacts import ArtifactError
from service.auth import create_key
from service.settings import REPO_ROOT, Settings

PROBLEM = "application/problem+json"


# The API tests only read, so one app per module is enough (building one takes ~1.5 s).
@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The real app with the shipped model on a fresh SQLite file."""
    path = tmp_path_factory.mktemp("classify") / "audit.db"
    return create_app(Settings(database_url=f"sqlite:///{path}", log_json=True))


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    """A test client for the module's app."""
    return app.test_client()


@pytest.fixture(scope="module")
def auth_headers(app: Flask) -> dict[str, str]:
    """Headers authenticating as the module's organisation."""
    return {"Authorization": f"Bearer {create_key(app.extensions['engine'], 'org-classify')}"}


def classify(client: FlaskClient, headers: dict[str, str], body: object) -> tuple[int, dict]:
    response = client.post("/v1/classify", json=body, headers=headers)
    return response.status_code, response.get_json()


def test_classify_returns_probability_label_candidates_and_model_version(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    status, body = classify(client, auth_headers, {"description": "区熔锗锭 5N, 3 kg"})
    assert status == 200
    assert 0.0 <= body["dual_use"]["probability"] <= 1.0
    assert body["dual_use"]["label"] in ("likely_dual_use", "needs_review", "likely_not_controlled")
    assert body["model"]["version"] == (REPO_ROOT / "artifacts" / "CURRENT").read_text().strip()
    assert 1 <= len(body["candidates"]) <= 5
    top = body["candidates"][0]
    assert set(top) == {"code", "title", "score", "lists", "status", "evidence"}
    assert top["status"] in ("cn_listed", "multilateral_only", "not_listed")
    assert set(top["evidence"]) == {"provision", "terms", "parameters", "comparisons"}
    scores = [c["score"] for c in body["candidates"]]
    assert scores == sorted(scores, reverse=True)


def test_evidence_names_the_parameters_read_from_the_description(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    status, body = classify(client, auth_headers, {"description": "Sm2Co17 magnet rings, 28 MGOe"})
    assert status == 200
    params = body["candidates"][0]["evidence"]["parameters"]
    assert {"quantity": "energy_product_mgoe", "value": 28.0, "unit": "MGOe", "text": "28 MGOe"} in params


def test_germanium_ingot_is_flagged_and_consumer_drone_is_not(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    _, ingot = classify(client, auth_headers, {"description": "区熔锗锭 5N, 3 kg"})
    _, drone = classify(client, auth_headers, {"description": "consumer quadcopter 249 g, 4K camera"})
    assert ingot["dual_use"]["label"] != "likely_not_controlled"
    assert drone["dual_use"]["probability"] < ingot["dual_use"]["probability"]


def test_traditional_chinese_is_classified_like_simplified(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    _, simplified = classify(client, auth_headers, {"description": "高纯氧化锑 99.99% 粉末 25公斤"})
    _, traditional = classify(client, auth_headers, {"description": "高純氧化銻 99.99% 粉末 25公斤"})
    assert traditional["dual_use"] == simplified["dual_use"]
    assert [c["code"] for c in traditional["candidates"]] == [c["code"] for c in simplified["candidates"]]


def test_classify_needs_an_api_key(client: FlaskClient) -> None:
    response = client.post("/v1/classify", json={"description": "gallium metal 6N"})
    assert response.status_code == 401
    assert response.mimetype == PROBLEM


@pytest.mark.parametrize(
    "body",
    [
        {"description": ""},
        {"description": "   \n\t "},
        {"description": "x" * 100_001},
        {"description": 42},
        {"description": None},
        {"description": ["gallium"]},
        {"text": "gallium"},
        {"description": "gallium", "extra": 1},
        {"description": "gallium\u0000metal"},
        {"description": "\u0001\u0002\u0003\u0004"},
        [],
        "gallium",
    ],
)
def test_bad_input_is_a_422_problem(
    client: FlaskClient, auth_headers: dict[str, str], body: object
) -> None:
    response = client.post("/v1/classify", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert response.get_json()["errors"]


def test_text_longer_than_the_setting_is_refused_even_under_the_body_limit(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post("/v1/classify", json={"description": "a" * 10_001}, headers=auth_headers)
    assert response.status_code == 422
    assert "10000" in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"\xff\xfe\x00junk\x80\x81", "application/json", 400),
        (b'{"description": "gal\xffium"}', "application/json", 400),
        (b'{"description": ', "application/json", 400),
        (b'{"description": "gallium"}', "text/plain", 415),
        (b"\x00" * 2_000_000, "application/json", 413),
        (b'{"description": "gallium \\ud800 metal"}', "application/json", 400),
    ],
)
def test_binary_junk_and_wrong_media_types_are_problems(
    client: FlaskClient, auth_headers: dict[str, str], data: bytes, content_type: str, status: int
) -> None:
    response = client.post(
        "/v1/classify", data=data, headers={**auth_headers, "Content-Type": content_type}
    )
    assert response.status_code == status
    assert response.mimetype == PROBLEM


def test_batch_echoes_ids_in_request_order(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    items = [
        {"id": "sku-2", "description": "cotton t-shirts"},
        {"id": "sku-1", "description": "gallium arsenide wafers, 6 inch"},
        {"id": "sku-3", "description": "硝酸铵化肥"},
    ]
    response = client.post("/v1/classify/batch", json={"items": items}, headers=auth_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == ["sku-2", "sku-1", "sku-3"]
    single = client.post("/v1/classify", json={"description": items[1]["description"]},
                         headers=auth_headers).get_json()
    assert body["items"][1]["dual_use"] == single["dual_use"]
    assert body["items"][1]["candidates"] == single["candidates"]


@pytest.mark.parametrize(
    ("items", "where"),
    [
        ([], "items"),
        ([{"id": str(i), "description": "steel bolts"} for i in range(257)], "items"),
        ([{"id": "a", "description": "ok"}, {"id": "b", "description": " "}], "1"),
        ([{"id": "", "description": "steel bolts"}], "id"),
        ([{"description": "steel bolts"}], "id"),
    ],
)
def test_batch_bounds_and_bad_items_are_422(
    client: FlaskClient, auth_headers: dict[str, str], items: list, where: str
) -> None:
    response = client.post("/v1/classify/batch", json={"items": items}, headers=auth_headers)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert any(where in e["location"] for e in response.get_json()["errors"])


def test_batch_needs_an_api_key(client: FlaskClient) -> None:
    response = client.post("/v1/classify/batch", json={"items": [{"id": "a", "description": "x"}]})
    assert response.status_code == 401


def test_model_endpoint_is_open_and_shows_manifest_metrics_and_card(client: FlaskClient) -> None:
    response = client.get("/v1/model")
    assert response.status_code == 200
    body = response.get_json()
    assert body["manifest"]["version"] == body["version"]
    assert set(body["manifest"]["libraries"]) >= {"scikit-learn", "numpy", "scipy", "joblib"}
    assert body["manifest"]["files"]["model.joblib"].startswith("sha256:")
    assert {"dev", "validation"} <= set(body["metrics"]["out_of_distribution"])
    assert body["model_card"].startswith("# Model card")


def test_readyz_reports_the_model_version(client: FlaskClient) -> None:
    body = client.get("/readyz").get_json()
    assert body["checks"]["model"] == "ok"
    assert body["versions"]["model"] == client.get("/v1/model").get_json()["version"]


@pytest.fixture
def tampered_artifacts(tmp_path: Path) -> Path:
    """A copy of the shipped artifacts whose model file has one byte changed."""
    source = REPO_ROOT / "artifacts"
    target = tmp_path / "artifacts"
    version = (source / "CURRENT").read_text().strip()
    (target / version).mkdir(parents=True)
    shutil.copy(source / "CURRENT", target / "CURRENT")
    for path in (source / version).iterdir():
        shutil.copy(path, target / version / path.name)
    model = target / version / "model.joblib"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    return target


def test_a_tampered_model_stops_the_start(settings: Settings, tampered_artifacts: Path) -> None:
    settings = settings.model_copy(update={"artifacts_dir": tampered_artifacts})
    with pytest.raises(ArtifactError, match="modified"):
        create_app(settings)


def test_without_require_model_readyz_says_why_and_classify_is_503(
    settings: Settings, tampered_artifacts: Path
) -> None:
    settings = settings.model_copy(
        update={"artifacts_dir": tampered_artifacts, "require_model": False}
    )
    app = create_app(settings)
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "modified" in ready.get_json()["checks"]["model"]
    key = create_key(app.extensions["engine"], "org-no-model")
    response = client.post("/v1/classify", json={"description": "gallium"},
                           headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 503
    assert response.mimetype == PROBLEM
    assert client.get("/v1/model").status_code == 503



def test_responses_are_json_serialisable_for_arbitrary_unicode(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    for text in ("😀 drone 💥", "ｆｕｌｌ－ｗｉｄｔｈ ５Ｎ 锗", "ŝ̷̛͔t̸͉̆r̵͈̍a̷n̶g̴e", "<script>alert(1)</script>"):
        response = client.post("/v1/classify", json={"description": text}, headers=auth_headers)
        assert response.status_code == 200, text
        json.loads(response.data)
