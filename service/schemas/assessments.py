"""Assessments: the request (DESIGN.md §1), the recorded decision, and reviews of it."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from service.parties import PartyHit
from service.rules import EndUse, EndUserType, Outcome, Purpose
from service.schemas import IsoDate
from service.schemas.classify import Candidate, DualUse

DESCRIPTION_MAX_CHARS = 10_000


def _hs_digits(value: str | None) -> str | None:
    """'8505.11.10 00' and '8505111000' are the same customs code."""
    return None if value is None else re.sub(r"[\s.]", "", value)


Country = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^\s*[A-Za-z]{2}\s*$"),
    Field(description="ISO 3166-1 alpha-2 country code, e.g. JP.", examples=["JP"]),
]
# Stripped, and not blank: the pattern states the same in the OpenAPI contract.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300, pattern=r"\S")
]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"\S")
]
RedFlag = Literal[
    "use_changed", "forged_certificate", "certificate_improperly_obtained", "other"
]


class Closed(BaseModel):
    """Unknown fields are errors: a mistyped field must not silently change a decision."""

    model_config = ConfigDict(extra="forbid")


class Item(Closed):
    """What is shipped: a description, a known control code, or both."""

    model_config = ConfigDict(
        # The OpenAPI form of the rule that _described_or_coded enforces.
        json_schema_extra={"anyOf": [
            {"required": ["description"], "properties": {"description": {"type": "string"}}},
            {"required": ["code"], "properties": {"code": {"type": "string"}}},
        ]},
    )

    description: str | None = Field(
        None, min_length=1, max_length=DESCRIPTION_MAX_CHARS, pattern=r"\S",
        description="Product description in English or Chinese; classified when no code is given.",
    )
    code: Code | None = Field(
        None, description="A control code the exporter already knows, e.g. 1C902.a; an "
        "unknown code is a 422 problem listing the nearest known codes.",
    )
    hs_code: Annotated[str | None, AfterValidator(_hs_digits)] = Field(
        None, max_length=30, pattern=r"^(?:[\s.]*\d){4,10}[\s.]*$",
        description="Customs (HS) code: 4 to 10 digits, dots and spaces allowed.",
    )

    @model_validator(mode="after")
    def _described_or_coded(self) -> Item:
        if self.description is None and self.code is None:
            raise ValueError("give item.description, item.code, or both")
        return self


class EndUser(Closed):
    """Who finally uses the item."""

    name: Name | None = None
    country: Country | None = None
    type: EndUserType = "unknown"


class Consignee(Closed):
    """Who receives the shipment, when not the end user."""

    name: Name | None = None
    country: Country | None = None


class AssessmentRequest(Closed):
    """One planned export to assess (DESIGN.md §1)."""

    item: Item
    destination: Country
    end_user: EndUser = Field(default_factory=EndUser)
    consignee: Consignee | None = None
    end_use: EndUse = "unknown"
    exporter_country: Country = "CN"
    chinese_origin: bool = Field(True, description="PRC-origin goods or goods with PRC content.")
    purpose: Purpose = Field("sale", description="Why the item moves (Reg. 19-20 routes).")
    red_flags: list[RedFlag] = Field(default_factory=list, max_length=10)
    risk_known: bool = Field(
        False, description="The exporter knows or was told of a WMD, terror or security risk."
    )
    exporter_barred: bool = Field(
        False, description="PRC branch of a Control List party, or seriously penalised (Reg. 20)."
    )
    prc_rare_earth_content: bool = Field(
        False, description="Foreign-made item with >= 0.1% PRC rare-earth value (Ann. 61/2025)."
    )
    as_of: IsoDate | None = Field(
        None, description="Evaluate the rules in force on this date (YYYY-MM-DD; default today)."
    )
    reference: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        None, description="The client's own reference, e.g. a purchase order number."
    )


class Reason(BaseModel):
    """A rule that fired, with its legal basis."""

    rule: str
    outcome: Outcome
    citation: str
    explanation: str


class DecisionClassification(BaseModel):
    """How the item was classified, and by what: the exporter's code or the model."""

    source: Literal["given_code", "classifier"]
    code: str | None = Field(description="The code the rules were evaluated with, if any.")
    status: Literal["cn_listed", "multilateral_only", "not_listed", "unknown"] = Field(
        description="unknown when the classifier left it open (needs_review)."
    )
    dual_use: DualUse | None = None
    candidates: list[Candidate] = Field(default_factory=list)


class PartyHitOut(PartyHit):
    """A match of the end user or consignee against MOFCOM's party lists."""

    party: Literal["end_user", "consignee"] = Field(description="Which named party matched.")


class Versions(BaseModel):
    """Everything that produced the decision."""

    model: str
    rules: str
    reference_data: str


class Review(BaseModel):
    """A reviewer's confirmation or correction, as recorded."""

    id: str
    created_at: datetime
    reviewer: str
    verdict: Literal["confirmed", "corrected"]
    code: str | None = None
    dual_use: bool | None = None
    note: str | None = None


class Decision(BaseModel):
    """The recorded decision: outcome, reasons with citations, classification, versions."""

    id: str
    created_at: datetime
    reference: str | None
    as_of: date
    outcome: Outcome
    reasons: list[Reason]
    classification: DecisionClassification
    party_hits: list[PartyHitOut]
    warnings: list[str]
    versions: Versions
    notice: str
    reviews: list[Review] = Field(
        default_factory=list, description="Reviews recorded since (GET only)."
    )


class ReviewRequest(Closed):
    """A reviewer confirms the decision's classification or corrects it."""

    reviewer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"\S")
    ]
    verdict: Literal["confirmed", "corrected"]
    code: Code | None = None
    dual_use: bool | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _corrections_say_what(self) -> ReviewRequest:
        if self.verdict == "corrected" and self.code is None and self.dual_use is None:
            raise ValueError("a correction gives the right code, dual_use, or both")
        return self
