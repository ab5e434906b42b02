"""Party screening: fuzzy matching of names against MOFCOM's Control and Watch Lists.

Names are normalised before matching: Unicode NFKC (full-width to half-width), case folding,
Traditional Chinese and Japanese shinjitai folded to Simplified Chinese, punctuation and
corporate forms (株式会社, 有限公司, Co., Ltd., K.K., Inc. ...) removed. A name then scores
against every spelling of an entity (Chinese, English and Japanese names and aliases) with
rapidfuzz; the entity's score is its best spelling's.

Scoring, 0 to 1:
- group abbreviations are expanded (MHI, KHI);
- ``max(ratio, token_sort_ratio)`` on the normalised names (spaces removed for ``ratio``, so
  CJK names with or without spaces compare alike);
- a short spelling (<= 4 Latin or <= 3 CJK characters, e.g. IHI, TDK, JAXA, 日油) only
  matches exactly, or as a whole word of the query (score ``CONTAINED_SCORE``), because fuzzy
  scores on short strings are noise;
- a whole listed spelling inside a longer query ("... Aero Engines, Ltd., Nagoya Works")
  scores ``CONTAINED_SCORE``; the reverse (the query is part of a listed name, such as a
  parent company) does not, since parents of listed entities are not listed.

``DEFAULT_THRESHOLD`` (0.88) keeps near misses such as "Mitsubishi Electric" or "Mitsubishi
Heavy Industries" below the line; callers may lower it per request to cast a wider net.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from service.features import simplified
from service.reference import Party, ReferenceData

DEFAULT_THRESHOLD = 0.88
CONTAINED_SCORE = 0.92

# Corporate forms, matched as whole words (Latin) or anywhere (CJK), longest first.
LATIN_SUFFIXES = (
    "kabushiki kaisha", "kabushiki gaisha", "co ltd", "company limited", "corporation",
    "incorporated", "company", "limited", "corp", "inc", "ltd", "llc", "plc", "gmbh",
    "kk", "k k", "co", "the",
)
CJK_SUFFIXES = (
    "股份有限公司", "有限责任公司", "有限公司", "株式会社", "有限会社", "合同会社", "(株)",
    "(有)", "公司",
)
STOPWORDS = {"and", "of"}
# Group abbreviations the sources use for listed entities ("MHI Aero Engines").
ABBREVIATIONS = {"mhi": "mitsubishi heavy industries", "khi": "kawasaki heavy industries"}
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
LATIN_SUFFIX_RE = re.compile(r"\b(?:" + "|".join(re.escape(s) for s in LATIN_SUFFIXES) + r")\b")


class PartyHit(BaseModel):
    """One listed entity matching a screened name."""

    list: str = Field(description="control (管控名单) or watch (关注名单).")
    entity: str = Field(description="Canonical English name as printed in the annex.")
    entity_zh: str = Field(description="Canonical Chinese name as printed in the annex.")
    matched_name: str = Field(description="The spelling (name or alias) that matched best.")
    score: float = Field(ge=0, le=1)
    announcement: str
    date: str
    verified: bool = Field(description="Name read in a verbatim reproduction of the annex.")
    country: str


@dataclass(frozen=True, slots=True)
class _Spelling:
    party: Party
    text: str
    key: str
    compact: str
    short: bool


def normalise(name: str) -> str:
    """Fold a party name to its matching key: lower-case, Simplified, no corporate form."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = simplified(text)
    for suffix in CJK_SUFFIXES:
        text = text.replace(suffix, " ")
    text = text.replace("&", " ").replace("＆", " ")
    text = re.sub(r"[^\w\s]|_", " ", text)
    text = re.sub(r"\b([a-z])\s(?=[a-z]\b)", r"\1", text)  # "k k" -> "kk", "e s" -> "es"
    text = LATIN_SUFFIX_RE.sub(" ", text)
    words = [ABBREVIATIONS.get(w, w) for w in text.split() if w not in STOPWORDS]
    return " ".join(words)


def _is_short(compact: str) -> bool:
    return len(compact) <= (3 if CJK_RE.search(compact) else 4)


def _spelling(party: Party, text: str) -> _Spelling:
    key = normalise(text)
    compact = key.replace(" ", "")
    return _Spelling(party, text, key, compact, _is_short(compact))


def score(query_key: str, spelling: _Spelling, fuzzy: float | None = None) -> float:
    """Similarity in [0, 1] of a normalised query and one listed spelling.

    ``fuzzy`` is the rapidfuzz score (0-100) when the caller computed it for many spellings at once.
    """
    compact = query_key.replace(" ", "")
    if not compact or not spelling.compact:
        return 0.0
    if compact == spelling.compact:
        return 1.0
    words = query_key.split()
    if spelling.short or _is_short(compact):
        contained = spelling.short and spelling.key in words
        return CONTAINED_SCORE if contained else 0.0
    if _contains(query_key, spelling.key):
        return CONTAINED_SCORE
    if fuzzy is None:
        fuzzy = _fuzzy(query_key, [spelling.compact], [spelling.key])[0][0]
    return float(fuzzy) / 100


def _fuzzy(query_key: str, compacts: list[str], keys: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per spelling: max(ratio, token-sort ratio) in vectorised rapidfuzz calls, and whether its
    letters lie whole in the query's (necessary for containment)."""
    compact = query_key.replace(" ", "")
    ratio = process.cdist([compact], compacts, scorer=fuzz.ratio, dtype=np.float64)[0]
    token_sort = process.cdist([query_key], keys, scorer=fuzz.token_sort_ratio, dtype=np.float64)[0]
    inside = np.array([c in compact for c in compacts], dtype=bool)
    return np.maximum(ratio, token_sort), inside


def _contains(query_key: str, listed_key: str) -> bool:
    """The whole listed name appears in the query, on word boundaries for Latin text."""
    if CJK_RE.search(listed_key):
        return listed_key.replace(" ", "") in query_key.replace(" ", "")
    return f" {listed_key} " in f" {query_key} "


class PartyScreener:
    """Screens names against the party lists; build it once from the reference data."""

    def __init__(self, parties: tuple[Party, ...], threshold: float = DEFAULT_THRESHOLD) -> None:
        self.parties = parties
        self.threshold = threshold
        self._spellings = [
            _spelling(party, text)
            for party in parties
            for text in dict.fromkeys((party.name_en, party.name_zh, party.name_ja, *party.aliases))
            if text
        ]
        self._compacts = [s.compact for s in self._spellings]
        self._keys = [s.key for s in self._spellings]
        self._short = np.array([s.short for s in self._spellings], dtype=bool)

    @classmethod
    def from_reference(
        cls, reference: ReferenceData, threshold: float = DEFAULT_THRESHOLD
    ) -> PartyScreener:
        """A screener over the reference data's Control and Watch List entities."""
        return cls(reference.parties, threshold)

    def spellings(self, party: Party) -> list[str]:
        """Every spelling of one entity that screening matches against."""
        return [s.text for s in self._spellings if s.party is party]

    def screen(
        self, name: str, threshold: float | None = None, country: str | None = None
    ) -> list[PartyHit]:
        """Entities whose best spelling scores at least ``threshold``, best first."""
        limit = self.threshold if threshold is None else threshold
        key = normalise(name)
        best: dict[int, tuple[float, _Spelling]] = {}
        fuzzy, inside = _fuzzy(key, self._compacts, self._keys)
        # Only spellings that can reach the limit are scored in Python: fuzzy enough, short
        # (exact-word rules), or contained; the rest cannot score above their fuzzy value.
        maybe = (fuzzy >= limit * 100) | inside | self._short
        if _is_short(key.replace(" ", "")):
            maybe[:] = True
        for i in np.flatnonzero(maybe):
            spelling = self._spellings[i]
            if country and spelling.party.country != country.upper():
                continue
            value = score(key, spelling, fuzzy[i])
            current = best.get(id(spelling.party))
            if value >= limit and (current is None or value > current[0]):
                best[id(spelling.party)] = (value, spelling)
        hits = [_hit(value, spelling) for value, spelling in best.values()]
        hits.sort(key=lambda h: (-h.score, h.list != "control", h.entity))
        return hits


def _hit(value: float, spelling: _Spelling) -> PartyHit:
    party = spelling.party
    return PartyHit(
        list=party.list,
        entity=party.name_en,
        entity_zh=party.name_zh,
        matched_name=spelling.text,
        score=round(value, 4),
        announcement=party.announcement,
        date=party.date,
        verified=party.verified,
        country=party.country,
    )
