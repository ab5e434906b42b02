"""Per-API-key rate limits, shared by all workers when the storage is Redis."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter

from service.auth import hash_key

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def rate_limit_key() -> str:
    """The caller's API key (hashed), else its address: the unit a limit applies to."""
    key = request.headers.get("X-API-Key")
    if key is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else None
    return "key:" + hash_key(key)[:32] if key else "addr:" + (request.remote_addr or "unknown")


def init_app(app: Flask) -> None:
    """Apply ``settings.rate_limit`` to every request but health and metrics."""
    settings = app.extensions["settings"]
    if not settings.rate_limit:
        return
    limiter = Limiter(
        key_func=rate_limit_key,
        app=app,
        default_limits=[settings.rate_limit],
        storage_uri=settings.rate_limit_storage_url,
        headers_enabled=True,
        # A broken limiter store must not take the service down; requests pass unlimited.
        swallow_errors=True,
        default_limits_exempt_when=lambda: request.path in EXEMPT_PATHS,
    )
    app.extensions["limiter"] = limiter
