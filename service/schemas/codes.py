"""Request and response models of the code catalogue: /v1/codes/{code}, /v1/codes, /v1/hs/{hs}."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from service.catalogue import Status
from service.schemas import NOTICE

ListName = Literal["CN", "CN-NUCLEAR", "EU", "US"]


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _not_blank(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise ValueError("the query must contain a non-blank character")
    return value


class ListText(BaseModel):
    """What one list says under a code."""

    model_config = ConfigDict(from_attributes=True)

    list: ListName
    code: str = Field(description="The code whose text this is: an ancestor's when the code has none.")
    title: str
    title_zh: str | None
    text: str = Field(description="Full text: the entry, or the provision with its sub-items.")
    text_zh: str | None
    source: str | None
    verified: bool = Field(description="False when the wording is known only from secondary sources.")
    cn_proxy: bool = Field(
        description="True when this EU text stands in for China's wording (same number on China's "
        "list, no Chinese text available)."
    )
    note: str | None


class CodeDetail(BaseModel):
    """One control code across China's, the EU's and the US lists."""

    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["1C902.a"])
    entry_code: str = Field(description="The 5-character entry (the code itself for synthetic ids).")
    synthetic: bool = Field(
        description="True for the service's CN-NAT-... ids of national items stated without a code."
    )
    title: str = Field(description="The best English title: the meaning that decides the status.")
    title_zh: str | None
    lists: list[str] = Field(description="Lists carrying the code: CN, CN-NUCLEAR, EU, US.")
    status: Status = Field(description="China-scope status: cn_listed, multilateral_only, not_listed.")
    cn_basis: str | None = Field(
        description="Why it is China-listed: licence_catalogue, national_item, nuclear_list or "
        "non_proliferation (see the catalogue notes)."
    )
    cn_status: Literal["in_force", "suspended"] | None
    suspended_until: date | None
    hs_codes: list[str] = Field(description="Customs codes of the code and its sub-items (a hint).")
    parent: str | None
    children: list[str]
    category_name: str | None
    type_name: str | None
    texts: list[ListText]
    note: str | None
    reference_data: str = Field(description="Version (content hash) of the reference data.")
    notice: str = NOTICE


class CodeSearchQuery(BaseModel):
    """Words to look for, in English or Chinese, optionally on one list."""

    model_config = ConfigDict(populate_by_name=True)

    q: Annotated[str, BeforeValidator(_not_blank)] = Field(
        min_length=1, max_length=200, description="Words (English or Chinese) or a code; 1-200 chars."
    )
    list_: Annotated[ListName | None, BeforeValidator(_upper)] = Field(
        None, alias="list", description="Only codes on this list; CN includes CN-NUCLEAR."
    )
    limit: int = Field(10, ge=1, le=100, description="Most hits returned, 1 to 100.")


class SearchHit(BaseModel):
    """One ranked search result."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    title: str
    title_zh: str | None
    lists: list[str]
    status: Status
    cn_status: Literal["in_force", "suspended"] | None
    score: float
    snippet: str = Field(description="The matching passage.")


class CodeSearchResults(BaseModel):
    """Codes ranked by relevance: title matches and China-listed items first."""

    q: str
    list: ListName | None
    limit: int
    hits: list[SearchHit]
    reference_data: str
    notice: str = NOTICE


class HsHeading(BaseModel):
    """An HS 2022 chapter, heading or subheading."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    level: int
    description: str


class HsCodeMatch(BaseModel):
    """A control code whose customs codes match the HS code."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    title: str
    lists: list[str]
    status: Status
    cn_status: Literal["in_force", "suspended"] | None
    hs_codes: list[str] = Field(description="Its customs codes that matched.")


class HsLookup(BaseModel):
    """Control codes associated with a customs code, with the HS description."""

    hs_code: str
    description: str | None = Field(description="The most specific HS 2022 description known.")
    headings: list[HsHeading] = Field(description="Chapter, heading and subheading, as far as known.")
    codes: list[HsCodeMatch]
    caveat: str = (
        "Customs codes come from China's 2026 licence catalogue and national-item announcements; "
        "they are a declaration hint, not a classification: a licence is required whether or not "
        "the customs code is listed."
    )
    reference_data: str
    notice: str = NOTICE


class HsPath(BaseModel):
    """An HS code in a path: 2 to 10 digits, dots or spaces allowed between them."""

    hs_code: str = Field(
        pattern=r"^\d{2}(?:[. ]?\d){0,8}$",
        description="2 to 10 digits, e.g. 8541 or 2805.30.19.10",
    )
