"""Request and response models of party screening (/v1/parties/screen) and the rules (/v1/rules)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from service.parties import DEFAULT_THRESHOLD, PartyHit
from service.rules import Outcome
from service.schemas import NOTICE, IsoDate


def _not_blank(name: str) -> str:
    if not name.strip():
        raise ValueError("a name must contain a non-blank character")
    return name


PartyName = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_not_blank)]


class ScreenRequest(BaseModel):
    """Names to screen (English, Chinese or Japanese) and an optional threshold."""

    model_config = ConfigDict(extra="forbid")

    names: list[PartyName] = Field(
        min_length=1,
        max_length=50,
        description="1 to 50 names, each 1 to 300 characters.",
        examples=[["Mitsubishi Heavy Industries Aero Engines, Ltd.", "三菱重工航空發動機株式會社"]],
    )
    threshold: float | None = Field(
        None,
        ge=0.5,
        le=1.0,
        description=f"Lowest score reported, 0.5 to 1.0; default {DEFAULT_THRESHOLD} (or "
        "DUC_PARTY_MATCH_THRESHOLD). Lower it to cast a wider net.",
    )


class ScreenResult(BaseModel):
    """The hits for one screened name, best first; empty when nothing reaches the threshold."""

    name: str
    hits: list[PartyHit]


class ScreenResponse(BaseModel):
    """Hits per name, in request order, with the threshold and data version used."""

    threshold: float
    results: list[ScreenResult]
    reference_data: str = Field(description="Version (content hash) of the party lists used.")
    notice: str = NOTICE


class RuleInfo(BaseModel):
    """One rule as published: what fires, its basis and dates."""

    id: str
    title: str
    outcome: Outcome
    citation: str
    effective_from: date
    suspended_from: date | None
    suspended_until: date | None = Field(description="Last day of the suspension, if any.")
    in_force: bool = Field(description="Effective and not suspended on as_of.")


class RuleSetInfo(BaseModel):
    """One rule set (a regime or measure) with its version and data date."""

    ruleset: str
    title: str
    version: str
    data_as_of: date = Field(description="Newest source date behind the rule set.")
    rules: list[RuleInfo]


class RulesQuery(BaseModel):
    """Which day to report the rules' status for."""

    model_config = ConfigDict(extra="forbid")

    as_of: IsoDate | None = Field(None, description="ISO date; default today.")


class RulesResponse(BaseModel):
    """The rule sets in force and the engine version recorded with every decision."""

    version: str = Field(description="Rules label plus a content hash of the YAML files.")
    as_of: date
    rulesets: list[RuleSetInfo]
