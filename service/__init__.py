"""Export-compliance decision service for dual-use items: the app factory."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from service import (
    assessments_api,
    auth,
    classify_api,
    codes_api,
    health,
    limits,
    logs,
    metrics,
    parties_api,
)
from service.db import make_engine, metadata
from service.problems import register_error_handlers
from service.reference import load_reference
from service.settings import Settings

# Each area registers its blueprint and state in ``init_app(app)``, in this order.
AREAS = (health, codes_api, classify_api, parties_api, assessments_api)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app: load and verify data, model and rules once, then wire the blueprints."""
    settings = settings or Settings()
    logs.configure_logging(settings.log_json)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    engine = make_engine(settings.database_url)
    reference = load_reference(settings.reference_dir)
    app.extensions.update(
        settings=settings,
        engine=engine,
        reference=reference,
        auth=auth.KeyStore(engine),
        versions={"reference_data": reference.version},
        readiness={"database": lambda: _ping(engine), "reference_data": lambda: "ok"},
    )
    register_error_handlers(app)
    logs.init_app(app)
    metrics.init_app(app)
    limits.init_app(app)
    for area in AREAS:
        area.init_app(app)
    metadata.create_all(engine)
    metrics.publish_versions(app.extensions["versions"])
    return app


def _ping(engine: object) -> str:
    """'ok' when the database answers, else the reason."""
    try:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as error:  # readiness reports any failure instead of raising
        return f"database unavailable: {type(error).__name__}"
