"""Liveness, readiness and the generated API contract."""

from __future__ import annotations

import html

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict

from service.contract import endpoint, openapi_spec
from service.schemas import Health, Readiness

bp = Blueprint("health", __name__)


def init_app(app: Flask) -> None:
    """Register the blueprint (and the benchmark baseline when settings ask for it)."""
    app.register_blueprint(bp)
    if app.extensions["settings"].bench_endpoint:
        app.add_url_rule("/bench/bare", "bench_bare", bench_bare, methods=["POST"])


class AnyJson(BaseModel):
    """Any JSON object."""

    model_config = ConfigDict(extra="allow")


@endpoint(body=AnyJson, response=Health, tags=("health",))
def bench_bare(body: AnyJson) -> Health:
    """Benchmark baseline: parse the JSON body like the real endpoints, do nothing else."""
    return Health()


@bp.get("/healthz")
@endpoint(response=Health, tags=("health",))
def healthz() -> Health:
    """Liveness: answers while the process runs; checks nothing outside it."""
    return Health()


@bp.get("/readyz")
@endpoint(response=Readiness, tags=("health",))
def readyz() -> tuple[Readiness, int]:
    """Readiness: 200 once model, data, rules and database are verified, else 503 with reasons."""
    checks = {name: check() for name, check in current_app.extensions["readiness"].items()}
    ready = all(result == "ok" for result in checks.values())
    body = Readiness(
        status="ready" if ready else "not_ready",
        checks=checks,
        versions=current_app.extensions["versions"],
    )
    return body, 200 if ready else 503


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document generated from the request and response models."""
    spec = current_app.extensions.get("openapi")
    if spec is None:
        spec = openapi_spec(current_app, "Dual-use export decision service", "v1")
        current_app.extensions["openapi"] = spec
    return jsonify(spec)


@bp.get("/docs")
def docs() -> Response:
    """A self-contained page listing every operation; the contract itself is /openapi.json."""
    spec = openapi_spec(current_app, "Dual-use export decision service", "v1")
    rows = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            lock = " (API key)" if op.get("security") else ""
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}{lock}</td></tr>"
            )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>API docs</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:.3em .8em}"
        "tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        "<h1>Dual-use export decision service: API v1</h1>"
        "<p>Decision support, not legal advice. Machine-readable contract: "
        "<a href='/openapi.json'>/openapi.json</a>. Errors are RFC 9457 "
        "<code>application/problem+json</code>.</p>"
        f"<table>{''.join(rows)}</table></body></html>"
    )
    return Response(page, mimetype="text/html")
