"""Typed settings read from the environment (prefix ``DUC_``), one comment each."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the service; tests build ``Settings(...)`` directly."""

    model_config = SettingsConfigDict(env_prefix="DUC_", env_file=".env", extra="ignore")

    # Audit and key store; SQLite file by default, PostgreSQL via DATABASE_URL.
    database_url: str = Field(
        default=f"sqlite:///{REPO_ROOT / 'var' / 'audit.db'}",
        validation_alias=AliasChoices("DATABASE_URL", "DUC_DATABASE_URL"),
    )
    # Versioned reference data (control lists, HS, party lists) shipped in the repo.
    reference_dir: Path = REPO_ROOT / "data" / "reference"
    # YAML rule sets, one file per regime or measure.
    rules_dir: Path = REPO_ROOT / "rules"
    # Published model versions and the CURRENT pointer.
    artifacts_dir: Path = REPO_ROOT / "artifacts"
    # Serve this model version instead of the one named in artifacts/CURRENT.
    model_version: str | None = None
    # Refuse to start without a verified model; False lets /readyz report the reason instead.
    require_model: bool = True
    # Largest accepted request body in bytes (413 above it).
    max_body_bytes: int = 1_048_576
    # Longest accepted product description in characters (422 above it).
    max_description_chars: int = 10_000
    # Most descriptions in one /v1/classify/batch call.
    max_batch_items: int = 256
    # Per-API-key rate limit (Flask-Limiter syntax); empty disables it.
    rate_limit: str = "6000/minute"
    # Where rate-limit counters live: memory:// is per process, redis:// is shared by workers.
    rate_limit_storage_url: str = "memory://"
    # JSON log lines (production) instead of console rendering (development).
    log_json: bool = True
    # Expose POST /bench/bare (parses the JSON body, does nothing else) for HTTP benchmarks.
    bench_endpoint: bool = False
    # Default lowest party-screening score reported (0.5-1.0); requests may override it.
    party_match_threshold: float = Field(default=0.88, ge=0.5, le=1.0)
