"""``python -m training export-reviews``: reviewed assessments become labelled training lines.

Each line is ``{id, text, lang, dual_use, code, rationale, source: "review"}``. The text is the
assessment's item description; the label is the reviewer's correction, or for a confirmation the
decision's own classification. The latest review of an assessment wins. Assessments without a
description (code only) and confirmations of an undecided classification carry no usable label
and are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from service.audit import AuditStore, ReviewedAssessment

REVIEWS_DIR = Path(__file__).resolve().parent / "data" / "reviews"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LABEL_DUAL_USE = {"likely_dual_use": True, "likely_not_controlled": False}


@dataclass(frozen=True)
class ExportResult:
    """Where the lines went and how many reviews were used or skipped."""

    path: Path
    written: int
    skipped: int


def training_line(reviewed: ReviewedAssessment) -> dict[str, Any] | None:
    """The training line for one review, or None when it gives no text or no label."""
    review, request, response = reviewed.review, reviewed.request, reviewed.response
    text = ((request.get("item") or {}).get("description") or "").strip()
    if not text:
        return None
    classification = response.get("classification") or {}
    dual_use, code = review.dual_use, review.code
    if review.verdict == "confirmed":
        if dual_use is None:
            dual_use = _decided_dual_use(classification)
        code = code or classification.get("code")
    if dual_use is None:
        return None
    rationale = f"Reviewer {review.verdict} assessment {review.assessment_id}"
    if review.note:
        rationale += f": {review.note}"
    return {
        "id": review.id,
        "text": text,
        "lang": "zh" if _CJK.search(text) else "en",
        "dual_use": dual_use,
        "code": code if dual_use else None,
        "rationale": rationale,
        "source": "review",
    }


def _decided_dual_use(classification: dict[str, Any]) -> bool | None:
    """What a confirmed decision said about dual use; None if it left that open."""
    if classification.get("source") == "given_code" or classification.get("code"):
        return classification.get("status") == "cn_listed"
    label = (classification.get("dual_use") or {}).get("label")
    return _LABEL_DUAL_USE.get(label)


def latest_per_assessment(reviewed: Iterable[ReviewedAssessment]) -> list[ReviewedAssessment]:
    """Keep the newest review of each assessment, in chain order."""
    latest: dict[str, ReviewedAssessment] = {}
    for item in reviewed:
        latest.pop(item.review.assessment_id, None)
        latest[item.review.assessment_id] = item
    return list(latest.values())


def export_reviews(store: AuditStore, out_dir: Path = REVIEWS_DIR, day: date | None = None,
                   org_id: int | None = None) -> ExportResult:
    """Write ``reviews-<day>.jsonl`` from the audit store's reviews (replacing that file).

    ``org_id`` limits the export to one organisation's reviews, for when only some
    organisations agreed to their descriptions being used for training.
    """
    day = day or datetime.now(UTC).date()
    lines, skipped = [], 0
    for reviewed in latest_per_assessment(store.iter_reviews(org_id)):
        line = training_line(reviewed)
        if line is None:
            skipped += 1
        else:
            lines.append(json.dumps(line, ensure_ascii=False))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"reviews-{day.isoformat()}.jsonl"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return ExportResult(path, len(lines), skipped)


def main(out_dir: Path = REVIEWS_DIR, database_url: str | None = None,
         organisation: str | None = None) -> int:
    """Export from the configured audit database and say what was written."""
    from sqlalchemy import select

    from service.auth import organisations
    from service.db import make_engine, metadata
    from service.settings import Settings

    engine = make_engine(database_url or Settings().database_url)
    try:
        metadata.create_all(engine)
        org_id = None
        if organisation is not None:
            with engine.connect() as conn:
                org_id = conn.scalar(
                    select(organisations.c.id).where(organisations.c.name == organisation)
                )
            if org_id is None:
                print(f"no organisation named {organisation!r}")
                return 1
        result = export_reviews(AuditStore(engine), out_dir, org_id=org_id)
    finally:
        engine.dispose()
    print(f"wrote {result.written} review lines to {result.path} "
          f"({result.skipped} reviews without a description or label skipped)")
    return 0
