"""Assessments: POST /v1/assessments decides and records; GET reads back; reviews attach."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, g

from service import metrics
from service.audit import AuditStore, ReviewRecord, new_id
from service.contract import endpoint, render
from service.decision import Components, decide, lookup_code
from service.problems import NotFound
from service.schemas.assessments import AssessmentRequest, Decision, Review, ReviewRequest

bp = Blueprint("assessments", __name__, url_prefix="/v1/assessments")
TAGS = ("assessments",)


def init_app(app: Flask) -> None:
    """Create the audit store and register the blueprint."""
    app.extensions["audit"] = AuditStore(app.extensions["engine"])
    app.register_blueprint(bp)


def components() -> Components:
    """The app's rules, catalogue, screener and (maybe absent) classifier."""
    ext = current_app.extensions
    return Components(
        rules=ext["rules"],
        catalogue=ext["catalogue"],
        parties=ext["parties"],
        classifier=ext.get("classifier"),
        reference_version=ext["versions"]["reference_data"],
    )


@bp.post("")
@endpoint(body=AssessmentRequest, response=Decision, status=201, auth=True, tags=TAGS)
def create(body: AssessmentRequest) -> Response:
    """Assess a planned export and record the decision in the audit log."""
    assessment_id, created_at = new_id("asm_"), datetime.now(UTC)
    decision = decide(body, components(), assessment_id=assessment_id, created_at=created_at)
    # Answered only once recorded: a decision that is not in the audit log was never given.
    current_app.extensions["audit"].record_assessment(
        g.org.id,
        request=body.model_dump(mode="json"),
        response=decision.model_dump(mode="json", exclude={"reviews"}),
        versions=decision.versions.model_dump(mode="json"),
        assessment_id=assessment_id,
        created_at=created_at,
        reference=body.reference,
    )
    metrics.OUTCOMES.labels(outcome=decision.outcome, rules_version=decision.versions.rules).inc()
    response = render(decision, 201)
    response.headers["Location"] = f"{bp.url_prefix}/{assessment_id}"
    return response


@bp.get("/<assessment_id>")
@endpoint(response=Decision, auth=True, tags=TAGS)
def get(assessment_id: str) -> Response:
    """One of your organisation's assessments as recorded, with its reviews."""
    record = current_app.extensions["audit"].get(g.org.id, assessment_id)
    if record is None:
        raise _not_found(assessment_id)
    # The recorded JSON verbatim, not re-validated: a record must read back exactly as it was
    # filed, even after the response model has grown new fields.
    reviews = [_review(r).model_dump(mode="json") for r in record.reviews]
    return Response(
        json.dumps({**record.response, "reviews": reviews}, ensure_ascii=False),
        mimetype="application/json",
    )


@bp.post("/<assessment_id>/review")
@endpoint(body=ReviewRequest, response=Review, status=201, auth=True, tags=TAGS)
def review(assessment_id: str, body: ReviewRequest) -> tuple[Review, int]:
    """Record a reviewer's confirmation or correction (code, dual-use, note) of an assessment."""
    code, dual_use = body.code, body.dual_use
    if code is not None:
        catalogue = current_app.extensions["catalogue"]
        code = lookup_code(catalogue, code).code
        if dual_use is None:
            dual_use = catalogue.status(code) == "cn_listed"
    record = current_app.extensions["audit"].add_review(
        g.org.id, assessment_id, reviewer=body.reviewer, verdict=body.verdict,
        code=code, dual_use=dual_use, note=body.note,
    )
    if record is None:
        raise _not_found(assessment_id)
    return _review(record), 201


def _not_found(assessment_id: str) -> NotFound:
    # The same answer for another organisation's id: existence is not disclosed.
    return NotFound(f"Your organisation has no assessment {assessment_id[:40]!r}.")


def _review(record: ReviewRecord) -> Review:
    return Review(
        id=record.id, created_at=record.created_at, reviewer=record.reviewer,
        verdict=record.verdict,  # type: ignore[arg-type]
        code=record.code, dual_use=record.dual_use, note=record.note,
    )
