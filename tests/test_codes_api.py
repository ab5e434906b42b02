"""The code catalogue endpoints through the real app: /v1/codes/{code}, /v1/codes?q=, /v1/hs/{hs}.

The endpoints only read immutable data, so one app serves the whole module; no API key is sent
because the catalogue is open.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from service import create_app
from service.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    """A client of one real app for the module."""
    db = Path(tmp_path_factory.mktemp("codes")) / "audit.db"
    app = create_app(Settings(database_url=f"sqlite:///{db}", require_model=False, rate_limit=""))
    return app.test_client()


def problem(response: object) -> dict:
    assert response.mimetype == "application/problem+json"  # type: ignore[attr-defined]
    return response.get_json()  # type: ignore[attr-defined]


# --- GET /v1/codes/{code} ----------------------------------------------------------------------


def test_samarium_code_has_list_status_and_customs_codes(client: FlaskClient) -> None:
    response = client.get("/v1/codes/1C902")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == "1C902" and "Samarium" in body["title"]
    assert body["lists"] == ["CN"]
    assert (body["status"], body["cn_status"], body["suspended_until"]) == ("cn_listed", "in_force", None)
    assert "2805301910" in body["hs_codes"]
    assert body["children"] == ["1C902.a", "1C902.b", "1C902.c"]
    assert body["reference_data"].startswith("sha256:") and "not legal advice" in body["notice"]


def test_code_lookup_is_case_and_punctuation_tolerant(client: FlaskClient) -> None:
    body = client.get("/v1/codes/3a001.A.5").get_json()
    assert body["code"] == "3A001.a.5" and body["entry_code"] == "3A001"
    assert body["parent"] == "3A001.a" and body["status"] == "multilateral_only"


def test_provision_code_carries_each_lists_text(client: FlaskClient) -> None:
    body = client.get("/v1/codes/3A001.a.5.a.1").get_json()
    texts = {t["list"]: t for t in body["texts"]}
    assert set(texts) == {"EU", "US"}
    assert texts["EU"]["text"].startswith("3A001.a.5.a.1 ") and texts["EU"]["cn_proxy"] is False


def test_china_listed_code_without_chinese_text_shows_the_eu_proxy(client: FlaskClient) -> None:
    body = client.get("/v1/codes/1C238").get_json()
    eu = next(t for t in body["texts"] if t["list"] == "EU")
    assert body["status"] == "cn_listed" and eu["cn_proxy"] is True


def test_reused_number_says_china_means_another_item(client: FlaskClient) -> None:
    body = client.get("/v1/codes/3C001").get_json()
    assert body["title"] == "Gallium-related items"
    assert not any(t["cn_proxy"] for t in body["texts"])
    assert "reuses the number 3C001" in body["note"]


def test_suspended_item_shows_its_date(client: FlaskClient) -> None:
    body = client.get("/v1/codes/1C909.a").get_json()
    assert (body["cn_status"], body["suspended_until"]) == ("suspended", "2026-11-10")


def test_synthetic_national_item_id_resolves(client: FlaskClient) -> None:
    body = client.get("/v1/codes/cn-nat-023-2023-02").get_json()
    assert body["code"] == "CN-NAT-023-2023-02" and body["synthetic"] is True
    assert "氮化镓" in body["title_zh"]


def test_unknown_code_is_404_with_close_suggestions(client: FlaskClient) -> None:
    response = client.get("/v1/codes/3A001.a.99")
    body = problem(response)
    assert response.status_code == body["status"] == 404
    assert "3A001.a.99" in body["detail"]
    codes = [s["code"] for s in body["suggestions"]]
    assert codes[0] == "3A001.a" and "3A001.a.1" in codes
    assert {"code", "title", "status"} <= set(body["suggestions"][0])


def test_words_instead_of_a_code_get_search_suggestions(client: FlaskClient) -> None:
    body = problem(client.get("/v1/codes/samarium"))
    assert any(s["code"].startswith("1C902") for s in body["suggestions"])


@pytest.mark.parametrize("path", ["/v1/codes/%00", "/v1/codes/%E2%98%83", "/v1/codes/" + "9" * 500])
def test_hostile_codes_are_404_not_errors(client: FlaskClient, path: str) -> None:
    assert problem(client.get(path))["status"] == 404


# --- GET /v1/codes?q= --------------------------------------------------------------------------


def test_chinese_search_ranks_a_gallium_item_first(client: FlaskClient) -> None:
    body = client.get("/v1/codes", query_string={"q": "氮化镓"}).get_json()
    first = body["hits"][0]
    assert "Gallium" in first["title"] and "氮化镓" in first["snippet"]
    assert first["status"] == "cn_listed" and first["score"] > 0
    assert body["q"] == "氮化镓" and body["limit"] == 10


def test_english_search_finds_the_gallium_items(client: FlaskClient) -> None:
    hits = client.get("/v1/codes?q=gallium%20nitride&limit=3").get_json()["hits"]
    assert len(hits) == 3 and "Gallium nitride" in hits[0]["title"]


def test_search_filters_by_list_case_insensitively(client: FlaskClient) -> None:
    body = client.get("/v1/codes?q=gallium%20nitride&list=eu").get_json()
    assert body["list"] == "EU" and body["hits"]
    assert all("EU" in hit["lists"] for hit in body["hits"])


def test_search_with_no_match_is_an_empty_list(client: FlaskClient) -> None:
    assert client.get("/v1/codes?q=zzzzqqqq").get_json()["hits"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "q"),
        ("?q=", "q"),
        ("?q=%20%20", "q"),
        ("?q=" + "a" * 201, "q"),
        ("?q=gallium&limit=0", "limit"),
        ("?q=gallium&limit=101", "limit"),
        ("?q=gallium&limit=ten", "limit"),
        ("?q=gallium&list=JP", "list"),
    ],
)
def test_bad_search_parameters_are_422_naming_the_field(
    client: FlaskClient, query: str, field: str
) -> None:
    response = client.get("/v1/codes" + query)
    body = problem(response)
    assert response.status_code == 422
    assert body["errors"][0]["location"] == ["query", field]


# --- GET /v1/hs/{hs_code} ----------------------------------------------------------------------


def test_hs_heading_returns_codes_and_description(client: FlaskClient) -> None:
    body = client.get("/v1/hs/8541").get_json()
    assert body["hs_code"] == "8541" and body["description"].startswith("Semiconductor devices")
    assert [h["code"] for h in body["headings"]] == ["85", "8541"]
    assert body["codes"] and all(hs.startswith("8541") for c in body["codes"] for hs in c["hs_codes"])
    assert "hint" in body["caveat"]


def test_ten_digit_customs_code_finds_samarium(client: FlaskClient) -> None:
    codes = {c["code"] for c in client.get("/v1/hs/2805301910").get_json()["codes"]}
    assert "1C902.a" in codes


@pytest.mark.parametrize("hs", ["8", "85x", "12345678901", "%20"])
def test_malformed_hs_code_is_422(client: FlaskClient, hs: str) -> None:
    response = client.get(f"/v1/hs/{hs}")
    assert response.status_code == 422
    assert problem(response)["errors"][0]["location"] == ["path", "hs_code"]


def test_hs_code_known_nowhere_is_404(client: FlaskClient) -> None:
    assert problem(client.get("/v1/hs/0000"))["status"] == 404


# --- wiring ------------------------------------------------------------------------------------


def test_endpoints_are_in_the_openapi_contract(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"/v1/codes/{code}", "/v1/codes", "/v1/hs/{hs_code}"} <= set(paths)
    params = {p["name"] for p in paths["/v1/codes"]["get"]["parameters"]}
    assert params == {"q", "list", "limit"}
    assert "security" not in paths["/v1/codes"]["get"]  # open: no API key


def test_readiness_reports_the_catalogue(client: FlaskClient) -> None:
    assert client.get("/readyz").get_json()["checks"]["catalogue"] == "ok"
