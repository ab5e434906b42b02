"""Evaluate a classifier on a labelled JSONL file (``text``, ``dual_use``, optional ``code``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from service.classifier import Classifier
from training.dataset import stem


class EvaluationError(ValueError):
    """A line of the evaluation file is not a labelled description."""


def read_labelled(path: Path) -> list[dict[str, Any]]:
    """Lines with a string ``text``, a bool ``dual_use`` and an optional ``code``."""
    lines = []
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            item = json.loads(raw)
            if not isinstance(item.get("text"), str) or not isinstance(item.get("dual_use"), bool):
                raise EvaluationError(f"{path}:{number}: needs a string 'text' and a bool 'dual_use'")
            code = item.get("code")
            if code is not None and not isinstance(code, str):
                raise EvaluationError(f"{path}:{number}: 'code' must be a string or null")
            lines.append(item)
    return lines


def evaluate(classifier: Classifier, lines: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Dual-use precision/recall (needs_review counts as flagged) and top-1/top-3 entry codes."""
    results = classifier.classify_batch([line["text"] for line in lines])
    y = np.array([line["dual_use"] for line in lines], dtype=bool)
    p = np.array([r.dual_use["probability"] for r in results])
    labels = [r.dual_use["label"] for r in results]
    flagged = np.array([label != "likely_not_controlled" for label in labels])
    tp = int((flagged & y).sum())
    fp = int((flagged & ~y).sum())
    fn = int((~flagged & y).sum())
    tn = int((~flagged & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    top1 = top3 = 0
    coded = [(line, r) for line, r in zip(lines, results, strict=True) if line.get("code")]
    for line, r in coded:
        wanted = stem(line["code"])
        got = [stem(c["code"]) for c in r.candidates[:3]]
        top1 += bool(got) and got[0] == wanted
        top3 += wanted in got
    n = len(lines)
    return {
        "n": n,
        "dual_use": {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "accuracy": round((tp + tn) / n, 4) if n else 0.0,
            "roc_auc": round(float(roc_auc_score(y, p)), 4) if 0 < y.sum() < n else None,
            "false_negatives": fn,
            "false_positives": fp,
        },
        "codes": {
            "n": len(coded),
            "top1": round(top1 / len(coded), 4) if coded else None,
            "top3": round(top3 / len(coded), 4) if coded else None,
        },
        "needs_review_rate": round(labels.count("needs_review") / n, 4) if n else 0.0,
    }


def risk_coverage_rows(classifier: Classifier, lines: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Missed controls and wrong automatic decisions as the review band widens."""
    from training.pipeline import risk_coverage

    results = classifier.classify_batch([line["text"] for line in lines])
    y = np.array([line["dual_use"] for line in lines], dtype=int)
    p = np.array([r.dual_use["probability"] for r in results])
    return risk_coverage(y, p)
