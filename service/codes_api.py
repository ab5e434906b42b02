"""The code catalogue API: GET /v1/codes/{code}, GET /v1/codes?q=, GET /v1/hs/{hs_code}."""

from __future__ import annotations

import re

from flask import Blueprint, Flask, current_app

from service.catalogue import Catalogue, normalise_code
from service.contract import endpoint
from service.problems import NotFound
from service.schemas.codes import (
    CodeDetail,
    CodeSearchQuery,
    CodeSearchResults,
    HsCodeMatch,
    HsHeading,
    HsLookup,
    HsPath,
    SearchHit,
)

bp = Blueprint("codes_api", __name__)
TAGS = ("codes",)


def init_app(app: Flask) -> None:
    """Build the catalogue once from the loaded reference data and register the blueprint."""
    catalogue = Catalogue.from_reference(app.extensions["reference"])
    app.extensions["catalogue"] = catalogue
    app.extensions["readiness"]["catalogue"] = lambda: "ok" if len(catalogue) else "catalogue is empty"
    app.register_blueprint(bp)


def _catalogue() -> Catalogue:
    return current_app.extensions["catalogue"]


def _version() -> str:
    return current_app.extensions["reference"].version


@bp.get("/v1/codes/<code>")
@endpoint(response=CodeDetail, tags=TAGS)
def get_code(code: str) -> CodeDetail:
    """One control code: lists carrying it, status, titles, texts, parent, children, HS codes."""
    catalogue = _catalogue()
    record = catalogue.get(code)
    if record is None or record.code != normalise_code(code):
        suggestions = [
            {"code": r.code, "title": r.title, "status": r.status} for r in catalogue.suggest(code)
        ]
        raise NotFound(
            f"No control code {code!r} on China's list, EU Annex I or the US CCL in the "
            "reference data.",
            suggestions=suggestions,
        )
    return CodeDetail.model_validate(
        {**_fields(record), "synthetic": record.synthetic, "reference_data": _version()}
    )


@bp.get("/v1/codes")
@endpoint(query=CodeSearchQuery, response=CodeSearchResults, tags=TAGS)
def search_codes(query: CodeSearchQuery) -> CodeSearchResults:
    """Search codes by words in English or Chinese, ranked, optionally on one list."""
    hits = _catalogue().search(query.q, query.list_, query.limit)
    return CodeSearchResults(
        q=query.q,
        list=query.list_,
        limit=query.limit,
        hits=[SearchHit.model_validate(hit) for hit in hits],
        reference_data=_version(),
    )


@bp.get("/v1/hs/<hs_code>")
@endpoint(path=HsPath, response=HsLookup, tags=TAGS)
def hs_lookup(hs_code: str) -> HsLookup:
    """Control codes whose customs codes match an HS code (2-10 digits, prefix-aware)."""
    digits = re.sub(r"[\s.]", "", hs_code)
    result = _catalogue().by_hs(digits)
    if not result.headings and not result.matches:
        raise NotFound(f"No HS 2022 heading and no control code for customs code {digits}.")
    return HsLookup(
        hs_code=result.hs_code,
        description=result.description,
        headings=[HsHeading.model_validate(h) for h in result.headings],
        codes=[HsCodeMatch.model_validate(m) for m in result.matches],
        reference_data=_version(),
    )


def _fields(record: object) -> dict[str, object]:
    """A record's dataclass fields, shallow (texts stay objects for from_attributes)."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__}  # type: ignore[attr-defined]
