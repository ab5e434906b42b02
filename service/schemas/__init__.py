"""Pydantic models shared by every part of the API; each area keeps its own module beside this."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

NOTICE = (
    "Decision support, not legal advice. Verify against the official MOFCOM texts "
    "and consult MOFCOM or counsel before relying on it."
)

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    """Accept dates only as YYYY-MM-DD: pydantic would read '0' or 0 as a Unix timestamp."""
    if isinstance(value, date) or (isinstance(value, str) and ISO_DATE.match(value)):
        return value
    raise ValueError("expected a date as YYYY-MM-DD")


IsoDate = Annotated[
    date, BeforeValidator(_iso_date), WithJsonSchema({"type": "string", "format": "date"})
]


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
