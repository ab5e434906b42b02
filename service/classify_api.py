"""The ML assist API: POST /v1/classify, POST /v1/classify/batch, GET /v1/model."""

from __future__ import annotations

import functools
import json
import unicodedata
from pathlib import Path
from typing import Any

import structlog
from flask import Blueprint, Flask, current_app

from service import metrics
from service.artifacts import (
    CARD_FILE,
    ArtifactError,
    Manifest,
    load_verified,
    resolve_version,
    verify,
)
from service.catalogue import Catalogue
from service.classifier import Classifier
from service.contract import endpoint
from service.problems import NotReady, Unprocessable
from service.schemas.classify import (
    BatchRequest,
    BatchResponse,
    BatchResult,
    Classification,
    ClassifyRequest,
    ModelInfo,
)

bp = Blueprint("classify_api", __name__)
TAGS = ("classify",)
WARM_UP = ("Sm2Co17 samarium-cobalt magnet rings, 28 MGOe", "区熔锗锭 5N, 3 kg")
log = structlog.get_logger(__name__)


def init_app(app: Flask) -> None:
    """Load and verify the model, warm it up and register the blueprint.

    A model that fails verification stops the start when ``settings.require_model``; otherwise
    /readyz reports the reason and the classify endpoints answer 503.
    """
    settings = app.extensions["settings"]
    catalogue = app.extensions.get("catalogue")
    if catalogue is None:
        catalogue = Catalogue.from_reference(app.extensions["reference"])
    state: dict[str, Any] = {"classifier": None, "manifest": None, "card": "", "error": None}
    try:
        version = resolve_version(settings.artifacts_dir, settings.model_version)
        version_dir = settings.artifacts_dir / version
        manifest = verify(version_dir)
        model = _load_model(str(version_dir), manifest.files["model.joblib"])
        classifier = Classifier(model, manifest.version, catalogue)
        classifier.classify_batch(list(WARM_UP))
        state.update(classifier=classifier, manifest=manifest, card=_card(version_dir))
        app.extensions["versions"]["model"] = manifest.version
        log.info("model_loaded", model_version=manifest.version, band=list(classifier.band))
    except ArtifactError as error:
        if settings.require_model:
            raise
        state["error"] = str(error)
        log.error("model_not_loaded", reason=str(error))
    app.extensions["classifier"] = state["classifier"]
    app.extensions["classify_state"] = state
    app.extensions["readiness"]["model"] = lambda: "ok" if state["error"] is None else state["error"]
    app.register_blueprint(bp)


@functools.lru_cache(maxsize=2)
def _load_model(version_dir: str, model_sha: str) -> dict[str, Any]:
    """Unpickle a verified version once per process (keyed by its hash: versions are immutable)."""
    model, _ = load_verified(Path(version_dir))
    return model


def _card(version_dir: Path) -> str:
    path = version_dir / CARD_FILE
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _classifier() -> Classifier:
    classifier = current_app.extensions.get("classifier")
    if classifier is None:
        reason = current_app.extensions["classify_state"]["error"] or "no model loaded"
        raise NotReady(f"The classifier is not available: {reason}")
    return classifier


def check_description(text: str, where: list[str]) -> str:
    """The stripped description, or a 422 for empty, too long or control-character junk."""
    limit = current_app.extensions["settings"].max_description_chars
    stripped = text.strip()
    problem = None
    if not stripped:
        problem = "is empty after stripping whitespace"
    elif len(stripped) > limit:
        problem = f"has {len(stripped)} characters; at most {limit} are accepted"
    elif any(_is_junk(ch) for ch in stripped):
        problem = "contains control characters or unpaired surrogates; send plain text"
    if problem is None:
        return stripped
    location = [*where, "description"]
    raise Unprocessable(
        f"{'.'.join(location)} {problem}.",
        errors=[{"location": location, "message": problem, "type": "value_error"}],
    )


def _is_junk(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cs")


@bp.post("/v1/classify")
@endpoint(body=ClassifyRequest, response=Classification, auth=True, tags=TAGS)
def classify(body: ClassifyRequest) -> Classification:
    """Classify one product description: P(dual-use), label and candidate codes with evidence."""
    text = check_description(body.description, ["body"])
    result = _classifier().classify(text)
    metrics.CLASSIFICATIONS.labels(result.dual_use["label"], result.model["version"]).inc()
    return result


@bp.post("/v1/classify/batch")
@endpoint(body=BatchRequest, response=BatchResponse, auth=True, tags=TAGS)
def classify_batch(body: BatchRequest) -> BatchResponse:
    """Classify up to DUC_MAX_BATCH_ITEMS descriptions; each result echoes the client's id."""
    limit = current_app.extensions["settings"].max_batch_items
    if len(body.items) > limit:
        raise Unprocessable(
            f"body.items has {len(body.items)} items; at most {limit} per call.",
            errors=[{"location": ["body", "items"], "message": f"at most {limit} items",
                     "type": "too_long"}],
        )
    texts = [check_description(item.description, ["body", "items", str(i)])
             for i, item in enumerate(body.items)]
    classifier = _classifier()
    results = classifier.classify_batch(texts)
    for r in results:
        metrics.CLASSIFICATIONS.labels(r.dual_use["label"], r.model["version"]).inc()
    return BatchResponse(
        # model_construct: the classifier builds results to the contract (tests validate them).
        items=[
            BatchResult.model_construct(id=item.id, dual_use=r.dual_use, candidates=r.candidates,
                                        model=r.model)
            for item, r in zip(body.items, results, strict=True)
        ],
        model=results[0].model,
    )


@bp.get("/v1/model")
@endpoint(response=ModelInfo, tags=TAGS)
def model_info() -> ModelInfo:
    """The model in service: version, manifest (hashes, libraries, data, band), metrics, card."""
    state = current_app.extensions["classify_state"]
    manifest: Manifest | None = state["manifest"]
    if manifest is None:
        raise NotReady(f"No model loaded: {state['error']}")
    data = json.loads(manifest.model_dump_json())
    return ModelInfo(version=manifest.version, manifest=data, metrics=data["metrics"],
                     model_card=state["card"])
