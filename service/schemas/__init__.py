"""Pydantic models shared by every part of the API; each area keeps its own module beside this."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

NOTICE = (
    "Decision support, not legal advice. Verify against the official MOFCOM texts "
    "and consult MOFCOM or counsel before relying on it."
)


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None


class Health(BaseModel):
    """Liveness: the process answers."""

    status: str = "ok"


class Readiness(BaseModel):
    """Readiness: every component loaded and verified, with the versions in force."""

    status: str
    checks: dict[str, str] = Field(description="Component name to 'ok' or the reason it is not ready.")
    versions: dict[str, str]
