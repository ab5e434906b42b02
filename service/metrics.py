"""Prometheus metrics, multiprocess-safe under gunicorn (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# prometheus_client keeps metric objects in module state by design; they are write-only here.
REQUESTS = Counter(
    "duc_http_requests_total", "HTTP requests by endpoint and status.", ["endpoint", "status"]
)
LATENCY = Histogram(
    "duc_http_request_duration_seconds",
    "HTTP request latency by endpoint.",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
CLASSIFICATIONS = Counter(
    "duc_classifications_total", "Classifier labels given.", ["label", "model_version"]
)
OUTCOMES = Counter(
    "duc_assessment_outcomes_total", "Assessment outcomes decided.", ["outcome", "rules_version"]
)
MODEL_INFO = Gauge(
    "duc_model_info", "Versions in force (value 1).", ["model", "rules", "reference_data"],
    multiprocess_mode="max",
)

bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    """Time every request and expose /metrics."""

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(endpoint, str(response.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            LATENCY.labels(endpoint).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(bp)


def publish_versions(versions: dict[str, str]) -> None:
    """Record the versions in force as an info-style gauge."""
    MODEL_INFO.labels(
        versions.get("model", "none"), versions.get("rules", "none"), versions.get("reference_data", "none")
    ).set(1)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition, aggregated over all gunicorn workers when multiprocess."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
