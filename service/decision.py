"""Decision assembly: an assessment request becomes facts, the rules decide, the result is filed.

The item's status comes from the exporter's code when given (looked up in the catalogue), else
from the classifier: its top candidate when it says ``likely_dual_use``, "uncertain" when it says
``needs_review`` (so the outcome is at least NEEDS_REVIEW), ``not_listed`` when it says
``likely_not_controlled``. The decision always says which of the two classified the item.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from service.catalogue import Catalogue, CodeRecord, code_key, normalise_code
from service.parties import PartyScreener
from service.problems import NotReady, Unprocessable
from service.rules import Evaluation, Facts, Outcome, RuleEngine
from service.schemas import NOTICE
from service.schemas.assessments import (
    AssessmentRequest,
    Decision,
    DecisionClassification,
    PartyHitOut,
    Reason,
    Versions,
)
from service.schemas.classify import Candidate, Classification, Evidence

NO_MODEL = "none"
# Item families named in the measures keyed on them (Ann. 46/2024 etc.), read from titles.
GROUP_PATTERNS = {
    "gallium": r"\bgallium\b|镓",
    "germanium": r"\bgermanium\b|锗",
    "antimony": r"\bantimony\b|锑",
    "graphite": r"\bgraphite\b|石墨",
    "superhard": r"\bsuperhard\b|\bdiamond\b|cubic boron nitride|超硬|金刚石",
    "tungsten": r"\btungsten\b|钨",
    "rare_earth": r"\brare[- ]earth|\bsamarium\b|\bdysprosium\b|\bterbium\b|\bgadolinium\b"
    r"|\blutetium\b|\bscandium\b|\byttrium\b|稀土",
    "battery": r"\bbatter(?:y|ies)\b|\blithium[- ]ion\b|电池",
    "uav": r"\bunmanned aerial\b|\bUAV\b|\bdrone\b|无人机",
}
RARE_EARTH_CODES = re.compile(r"^1C90[2-8]\b")


class Classifier(Protocol):
    """What decisions need of the classifier (``service.classifier``)."""

    def classify(self, text: str) -> Classification:
        """The model's proposal for one description."""
        ...


@dataclass(frozen=True)
class Components:
    """What a decision is made with; built once per app from ``app.extensions``."""

    rules: RuleEngine
    catalogue: Catalogue
    parties: PartyScreener
    classifier: Classifier | None
    reference_version: str


def decide(
    request: AssessmentRequest,
    components: Components,
    *,
    assessment_id: str,
    created_at: datetime,
) -> Decision:
    """Classify, screen and evaluate one planned export; return the decision to record."""
    as_of = request.as_of or created_at.date()
    classification, uncertain, model_version, notes = _classify(request, components)
    hits = _screen(request, components)
    facts = Facts(
        item_status=classification.status,  # type: ignore[arg-type]
        code=classification.code if classification.status == "cn_listed" else None,
        item_groups=_item_groups(classification, components.catalogue),
        destination=request.destination,
        end_user_type=request.end_user.type,
        end_use=request.end_use,
        party_lists=sorted({h.list for h in hits}),  # type: ignore[arg-type]
        party_countries=sorted({h.country for h in hits if h.country}),
        exporter_country=request.exporter_country,
        chinese_origin=request.chinese_origin,
        classification_uncertain=uncertain,
        red_flags=list(request.red_flags),
        purpose=request.purpose,
        exporter_barred=request.exporter_barred,
        prc_rare_earth_content=request.prc_rare_earth_content,
        risk_known=request.risk_known,
    )
    evaluation = components.rules.evaluate(facts, as_of)
    outcome, warnings = _floor(evaluation, uncertain)
    warnings = notes + warnings
    return Decision(
        id=assessment_id,
        created_at=created_at,
        reference=request.reference,
        as_of=as_of,
        outcome=outcome,
        reasons=[
            Reason(rule=h.rule, outcome=h.outcome, citation=h.citation, explanation=h.explanation)
            for h in evaluation.hits
        ],
        classification=classification,
        party_hits=hits,
        warnings=warnings,
        versions=Versions(
            model=model_version, rules=components.rules.version,
            reference_data=components.reference_version,
        ),
        notice=NOTICE,
    )


def _classify(
    request: AssessmentRequest, components: Components
) -> tuple[DecisionClassification, bool, str, list[str]]:
    """(classification, uncertain?, model version, warnings) from the given code or the model."""
    item, classifier = request.item, components.classifier
    if item.code:
        record = lookup_code(components.catalogue, item.code)
        warnings = []
        if record.code != normalise_code(item.code):
            warnings.append(
                f"Code {item.code!r} is not in the reference data as such; its nearest listed "
                f"ancestor {record.code} was used."
            )
        candidate = Candidate(
            code=record.code, title=record.title, score=1.0, lists=list(record.lists),
            status=record.status,
            evidence=Evidence(provision=None, terms=[], parameters=[], comparisons=[]),
        )
        classification = DecisionClassification(
            source="given_code", code=record.code, status=record.status, candidates=[candidate]
        )
        model_version = NO_MODEL
        if item.description and classifier is not None:
            # The exporter's code decides; the model only cross-checks it for the reviewer.
            result = classifier.classify(item.description)
            classification.dual_use, model_version = result.dual_use, result.model["version"]
            warnings += _disagreement(record.code, record.status, result)
        return classification, False, model_version, warnings
    if classifier is None:
        raise NotReady(
            "No classification model is loaded, so an item without a code cannot be assessed; "
            "give item.code or retry once /readyz reports the model."
        )
    result = classifier.classify(item.description or "")
    label, top = result.dual_use["label"], (result.candidates[0] if result.candidates else None)
    if label == "likely_dual_use" and top is not None:
        code, status = top["code"], top["status"]
        # The model says controlled but its best code is not on China's list: a person decides.
        uncertain = status != "cn_listed"
    elif label == "likely_not_controlled":
        code, status, uncertain = None, "not_listed", False
    else:
        code, status, uncertain = None, "unknown", True
    classification = DecisionClassification(
        source="classifier", code=code, status=status, dual_use=result.dual_use,
        candidates=result.candidates,
    )
    return classification, uncertain, result.model["version"], []


def _disagreement(code: str, status: str, result: Classification) -> list[str]:
    """A warning when the model reads the description differently from the given code."""
    label = result.dual_use["label"]
    if (status == "cn_listed") == (label == "likely_dual_use") or label == "needs_review":
        return []
    top = result.candidates[0]["code"] if result.candidates else "no code"
    return [
        f"The given code {code} is {status}, but the model reads the description as {label} "
        f"(p={result.dual_use['probability']:.2f}, top candidate {top}); check the classification."
    ]


def lookup_code(catalogue: Catalogue, code: str) -> CodeRecord:
    """The catalogue record of a code, or a 422 problem with the nearest known codes."""
    record = catalogue.get(code)
    if record is None:
        raise Unprocessable(
            f"Unknown control code {code!r}: not on China's list, EU Annex I or the US CCL "
            "in the reference data.",
            suggestions=suggest_codes(catalogue, code),
        )
    return record


def suggest_codes(catalogue: Catalogue, code: str, limit: int = 5) -> list[str]:
    """Known codes spelled most like an unknown one, same entry first."""
    wanted = (normalise_code(code) or code.strip()).upper()
    known = [r.code for r in catalogue]
    same_entry = [c for c in known if c.upper().startswith(wanted[:5])]
    pool = same_entry or known
    return difflib.get_close_matches(wanted, pool, n=limit, cutoff=0.5) or sorted(
        same_entry, key=code_key
    )[:limit]


def _screen(request: AssessmentRequest, components: Components) -> list[PartyHitOut]:
    """List hits for the end user and the consignee, best first."""
    hits: list[PartyHitOut] = []
    for role, party in (("end_user", request.end_user), ("consignee", request.consignee)):
        if party is not None and party.name:
            hits += [
                PartyHitOut(party=role, **hit.model_dump())
                for hit in components.parties.screen(party.name)
            ]
    return hits


def _item_groups(classification: DecisionClassification, catalogue: Catalogue) -> list[str]:
    """The families of the classified item, read from its code and titles."""
    if classification.code is None:
        return []
    record = catalogue.get(classification.code)
    titles = [record.title, record.title_zh or ""] if record else []
    text = " ".join([classification.code, *titles])
    groups = {g for g, pattern in GROUP_PATTERNS.items() if re.search(pattern, text, re.I)}
    if RARE_EARTH_CODES.match(classification.code):
        groups.add("rare_earth")
    return sorted(groups)


def _floor(evaluation: Evaluation, uncertain: bool) -> tuple[Outcome, list[str]]:
    """An uncertain classification never yields less than NEEDS_REVIEW, whatever the rules say."""
    warnings = list(evaluation.warnings)
    outcome = evaluation.outcome
    if uncertain and outcome.severity < Outcome.NEEDS_REVIEW.severity:
        warnings.append(
            "The classification is uncertain, so the outcome was raised to NEEDS_REVIEW; "
            "have the item classified (or consult MOFCOM) before shipping."
        )
        outcome = Outcome.NEEDS_REVIEW
    return outcome, warnings

