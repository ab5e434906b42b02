"""Request and response models of the classification API (/v1/classify, /v1/model)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

Label = Literal["likely_dual_use", "needs_review", "likely_not_controlled"]
Status = Literal["cn_listed", "multilateral_only", "not_listed"]


class ClassifyRequest(BaseModel):
    """One product description, English or Chinese."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(
        min_length=1,
        description="Product description as the exporter writes it; 1 to "
        "DUC_MAX_DESCRIPTION_CHARS (default 10,000) characters after stripping.",
        examples=["Sm2Co17 samarium-cobalt permanent magnet rings, 28 MGOe"],
    )


class BatchItem(BaseModel):
    """One description of a batch with the client's own id, echoed in the result."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="Client id, echoed back.")
    description: str = Field(min_length=1, description="As in ClassifyRequest.")


class BatchRequest(BaseModel):
    """Up to DUC_MAX_BATCH_ITEMS (default 256) descriptions."""

    model_config = ConfigDict(extra="forbid")

    items: list[BatchItem] = Field(min_length=1, description="1 to DUC_MAX_BATCH_ITEMS items.")


# The parts of a classification are TypedDicts, not models: a batch builds tens of thousands,
# and pydantic validates and serialises dicts about three times faster than model instances.


class DualUse(TypedDict):
    """Calibrated probability that the item is dual-use in China's scope, and its label."""

    probability: Annotated[float, Field(ge=0.0, le=1.0)]
    label: Annotated[Label, Field(
        description="likely_dual_use above the band, needs_review inside it (never auto-cleared), "
        "likely_not_controlled below it; the band is in the model manifest."
    )]


class ParameterValue(TypedDict):
    """A value with a unit read from the description, in the quantity's base unit."""

    quantity: Annotated[str, Field(examples=["mass_g"])]
    value: float
    unit: Annotated[str, Field(description="The unit as written.")]
    text: Annotated[str, Field(description="The matched text.")]


class ParameterComparison(TypedDict):
    """A description parameter next to a value of the same quantity in the provision text."""

    quantity: str
    description_value: float
    provision_value: float
    provision_text: Annotated[str, Field(description="The matched value in the provision.")]
    relation: Annotated[Literal["above", "equal", "below"], Field(
        description="How the description's value compares; whether that is inside the "
        "control depends on the provision's wording (exceeding, less than...)."
    )]


class ProvisionMatch(TypedDict):
    """The provision (or list text) of the candidate entry that best matches the description."""

    code: str
    text: str
    similarity: Annotated[float, Field(description="Cosine similarity in the model's feature space.")]


class Evidence(TypedDict):
    """Why a candidate was proposed."""

    provision: ProvisionMatch | None
    terms: Annotated[list[str], Field(description="Terms that drove the score.")]
    parameters: list[ParameterValue]
    comparisons: list[ParameterComparison]


class Candidate(TypedDict):
    """A candidate control code with its lists and status in China's scope."""

    code: Annotated[str, Field(examples=["1C902.a"])]
    title: str
    score: Annotated[float, Field(ge=0.0, le=1.0)]
    lists: Annotated[list[str], Field(examples=[["CN", "EU"]])]
    status: Status
    evidence: Evidence


class ModelRef(TypedDict):
    """The model version that produced a result."""

    version: str


class Classification(BaseModel):
    """A dual-use proposal with candidate codes and evidence for one description."""

    dual_use: DualUse
    candidates: list[Candidate]
    model: ModelRef


class BatchResult(Classification):
    """One batch item's classification, with the client's id."""

    id: str


class BatchResponse(BaseModel):
    """Results in request order."""

    items: list[BatchResult]
    model: ModelRef


class ModelInfo(BaseModel):
    """The model in service: manifest, metrics and model card."""

    version: str
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    model_card: str
