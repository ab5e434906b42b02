"""Train into a work directory, then publish it as an immutable, verified artifact version."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from service.artifacts import (
    CARD_FILE,
    CURRENT_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    Manifest,
    library_versions,
    load_verified,
    read_manifest,
    sha256_file,
    write_manifest,
)
from service.catalogue import Catalogue
from service.classifier import Classifier
from service.reference import load_reference
from training.dataset import REPO, read_dataset
from training.evaluate import evaluate, read_labelled, risk_coverage_rows
from training.pipeline import TrainResult, choose_band, train

REFERENCE_DIR = REPO / "data" / "reference"
HISTORY_DIR = "history"
ROUND_TRIP_TEXTS = (
    "Sm2Co17 magnet rings, 28 MGOe",
    "区熔锗锭 5N, 3 kg",
    "consumer quadcopter 249 g, 4K camera",
    "cotton t-shirts",
)


def _catalogue() -> Catalogue:
    return Catalogue.from_reference(load_reference(REFERENCE_DIR))


def train_to_dir(
    out: Path,
    evaluation_sets: dict[str, Path] | None = None,
    catalogue: Catalogue | None = None,
    params: dict[str, Any] | None = None,
    validation: Path | None = None,
) -> dict[str, Any]:
    """Train on ``out/dataset.jsonl``; write ``out/model.joblib`` and ``out/report.json``.

    ``validation`` (labelled JSONL of realistic descriptions, never trained on) sets the review
    band; ``evaluation_sets`` (name to labelled JSONL) are evaluated for the record only.
    """
    stats = json.loads((out / "dataset_stats.json").read_text(encoding="utf-8"))
    rows = read_dataset(out / "dataset.jsonl")
    result = train(rows, params)
    if validation is not None and validation.is_file():
        result = choose_band_on_validation(result, validation, catalogue or _catalogue())
    started = time.perf_counter()
    joblib.dump(result.model, out / MODEL_FILE, compress=("zlib", 6))
    report = {**result.report, "band": list(result.band), "dataset": stats}
    report["timings"]["save_s"] = round(time.perf_counter() - started, 2)
    if evaluation_sets:
        # Reported only: nothing is tuned on these files.
        classifier = Classifier(result.model, "out", catalogue or _catalogue())
        report["evaluation"] = {}
        for name, path in evaluation_sets.items():
            lines = read_labelled(path)
            report["evaluation"][name] = {
                "file": str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path),
                "metrics": evaluate(classifier, lines),
                "risk_coverage": risk_coverage_rows(classifier, lines),
            }
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    return report


def choose_band_on_validation(result: TrainResult, validation: Path, catalogue: Catalogue) -> TrainResult:
    """Re-choose the review band on realistic validation descriptions.

    Out-of-fold curated lines are harder than real descriptions (their near-miss twins sit in the
    training folds), so a band chosen there flags too many ordinary goods; only the two band
    edges are fitted on the validation file, never the weights.
    """
    lines = read_labelled(validation)
    results = Classifier(result.model, "out", catalogue).classify_batch([ln["text"] for ln in lines])
    y = np.array([ln["dual_use"] for ln in lines], dtype=int)
    p = np.array([r.dual_use["probability"] for r in results])
    params = result.report["params"]
    band = choose_band(y, p, params["validation_target_recall"], params["max_review_rate"],
                       params["target_precision"])
    name = str(validation.relative_to(REPO)) if validation.is_relative_to(REPO) else str(validation)
    report = {**result.report, "band_chosen_on": f"validation file {name}",
              "out_of_fold_band": list(result.band)}
    return TrainResult(model={**result.model, "band": band}, band=band, report=report)


def next_version(artifacts: Path, today: str | None = None) -> str:
    """``YYYY-MM-DD.N``: today's date (UTC) and the next free number for it."""
    today = today or datetime.now(UTC).strftime("%Y-%m-%d")
    taken = {p.name for p in artifacts.iterdir()} if artifacts.is_dir() else set()
    history = artifacts / HISTORY_DIR
    if history.is_dir():
        taken |= {p.name.removesuffix(".manifest.json") for p in history.iterdir()}
    n = 1
    while f"{today}.{n}" in taken:
        n += 1
    return f"{today}.{n}"


def publish(out: Path, artifacts: Path, version: str | None = None) -> str:
    """Copy the trained model into ``artifacts/<version>/`` with manifest and card; move CURRENT."""
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    artifacts.mkdir(parents=True, exist_ok=True)
    version = version or next_version(artifacts)
    final = artifacts / version
    if final.exists():
        raise FileExistsError(f"{final} exists: published versions are immutable.")
    staging = artifacts / f".{version}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    shutil.copyfile(out / MODEL_FILE, staging / MODEL_FILE)
    metrics = _metrics(report)
    (staging / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (staging / CARD_FILE).write_text(model_card(version, report), encoding="utf-8")
    manifest = Manifest(
        version=version,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        files={p.name: sha256_file(p) for p in sorted(staging.iterdir())},
        libraries=library_versions(),
        training_data={k: report["dataset"][k] for k in ("sha256", "rows", "positive", "codes",
                                                          "sources", "dropped")},
        band=tuple(report["band"]),
        metrics=metrics,
        params=report["params"],
    )
    write_manifest(staging, manifest)
    os.replace(staging, final)
    _round_trip(out, final)
    _point_current(artifacts, version)
    _retire_old_versions(artifacts, keep=version)
    return version


def load_classifier(model: str | None, out: Path, artifacts: Path) -> Classifier:
    """The classifier of a published version (default CURRENT) or of ``out`` (``--model out``)."""
    if model == "out":
        return Classifier(joblib.load(out / MODEL_FILE), "out", _catalogue())
    classifier, _ = Classifier.load(artifacts, model, _catalogue())
    return classifier


def _round_trip(out: Path, final: Path) -> None:
    """The published, verified copy must predict exactly what the trained model predicts."""
    loaded, manifest = load_verified(final)
    original = joblib.load(out / MODEL_FILE)
    a = Classifier(loaded, manifest.version).classify_batch(list(ROUND_TRIP_TEXTS))
    b = Classifier(original, manifest.version).classify_batch(list(ROUND_TRIP_TEXTS))
    if [r.model_dump() for r in a] != [r.model_dump() for r in b]:
        shutil.rmtree(final)
        raise RuntimeError("Published model does not reproduce the trained one; removed.")


def _point_current(artifacts: Path, version: str) -> None:
    pointer = artifacts / CURRENT_FILE
    tmp = artifacts / f".{CURRENT_FILE}.tmp"
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, pointer)


def _retire_old_versions(artifacts: Path, keep: str) -> None:
    """Git is no model store: older versions leave the tree, their manifests stay for the record."""
    history = artifacts / HISTORY_DIR
    for path in artifacts.iterdir():
        if not path.is_dir() or path.name in (keep, HISTORY_DIR) or path.name.startswith("."):
            continue
        if (path / MANIFEST_FILE).is_file():
            history.mkdir(exist_ok=True)
            manifest = read_manifest(path)
            (history / f"{path.name}.manifest.json").write_text(
                json.dumps(manifest.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
        shutil.rmtree(path)


def _metrics(report: dict[str, Any]) -> dict[str, Any]:
    evaluation = report.get("evaluation", {})
    return {
        "in_distribution_grouped_cv": report["oof"],
        "ranker_holdout": report["ranker_holdout"],
        "out_of_distribution": {name: e["metrics"] for name, e in evaluation.items()},
        "out_of_distribution_risk_coverage": {
            name: e["risk_coverage"] for name, e in evaluation.items()
        },
        "train_risk_coverage": report["risk_coverage"],
        "timings_s": report["timings"],
    }


def model_card(version: str, report: dict[str, Any]) -> str:
    """The model card: intended use, data, metrics in and out of distribution, failure modes."""
    ds = report["dataset"]
    lo, hi = report["band"]
    oof = report["oof"]
    evaluation = report.get("evaluation", {})

    def cv_row(name: str, m: dict[str, Any] | None) -> str:
        if not m:
            return f"| {name} | n/a | | | | |"
        return (f"| {name} | {m['n']} | {m.get('precision')} | {m.get('recall')} | "
                f"{m.get('roc_auc')} | {m.get('needs_review_rate')} |")

    sources = "\n".join(
        f"| {name} | {s['rows']} | {s['positive']} | {s['with_code']} |"
        for name, s in ds["sources"].items()
    )
    ood_rows = "\n".join(
        f"| `{e['file']}` | {m['n']} | {m['dual_use']['precision']} | {m['dual_use']['recall']} | "
        f"{m['dual_use']['roc_auc']} | {m['dual_use']['false_negatives']} | "
        f"{m['dual_use']['false_positives']} | {m['needs_review_rate']} | "
        f"{m['codes']['top1']} / {m['codes']['top3']} (n={m['codes']['n']}) |"
        for e in evaluation.values()
        for m in [e["metrics"]]
    ) or "| (no evaluation file present) | | | | | | | | |"
    rc_name, rc = next(((n, e["risk_coverage"]) for n, e in evaluation.items()),
                       ("training out-of-fold", report["risk_coverage"]))
    rc_rows = "\n".join(
        f"| [{r['band'][0]}, {r['band'][1]}) | {r['coverage']} | {r['risk']} | "
        f"{r['missed_controls']} |"
        for r in rc
    )
    rh = report["ranker_holdout"]
    return f"""# Model card: dual-use classifier {version}

**Decision support, not legal advice.** The model proposes; a person decides.

## Intended use
Reads a product description as an exporter writes it (English or Chinese) and proposes whether
the item is likely dual-use in **China's** scope (China's 2026 licence catalogue, national items,
the multilateral non-proliferation entries and the nuclear list; not Wassenaar-only entries) and
which entry codes are the best candidates, with evidence. `needs_review` (calibrated probability
in [{lo}, {hi})) is never auto-cleared. Not for: legal classification without review, military
items (China's separate military list), technology or software described only vaguely.

## Model
One shared featurisation (word 1-2 grams with Chinese characters as words, char_wb 3-4 grams,
binned parameter tokens such as `__purity_nines_ge_5n__`; TF-IDF, sublinear, bounded
vocabularies); a logistic regression calibrated with a sigmoid on out-of-fold decisions
(`CalibratedClassifierCV(ensemble=False)`); a linear SVM over {ds['codes']} entry codes fused
with cosine retrieval over list texts and curated lines. The band was chosen on
{report['band_chosen_on']} for recall >= {report['params']['validation_target_recall']} with at
most {report['params']['max_review_rate']:.0%} in review; only its two edges come from that file,
so its figures below are optimistic. Out-of-fold curated lines alone would have given
{report.get('out_of_fold_band', report['band'])} (the in-distribution table uses that band): they
are harder than real descriptions because their near-miss twins sit in the training folds, and
flag many ordinary goods. Nothing at all was tuned on `tests/data/dev_products.jsonl`: it is
the honest out-of-distribution test.

## Data
Dataset {ds['sha256']} ({ds['rows']} rows, {ds['positive']} positive), built by
`python -m training build-dataset`:

| source | rows | positive | with code |
|---|---|---|---|
{sources}

Dropped: {json.dumps(ds['dropped'], ensure_ascii=False)}. Items whose only basis is an
announcement suspended by Ann. 70/2025 are left out of the positives. No line of an evaluation
file is ever trained on (identical lines are dropped at build time).

## Metrics
Dual-use counts `likely_dual_use` and `needs_review` as flagged.

In distribution (out-of-fold, `python -m training train`):

| evaluation | n | precision | recall | ROC AUC | needs_review |
|---|---|---|---|---|---|
{cv_row("whole entries held out (grouped 5-fold), all rows", oof.get("entry_grouped_all"))}
{cv_row("whole entries held out, list text and goods names", oof.get("entry_grouped_list_text"))}
{cv_row("whole entries held out, curated lines", oof.get("entry_grouped_curated"))}
{cv_row("curated lines held out, entry's list text known", oof.get("curated_entry_known"))}

Out of distribution (realistic descriptions never trained on;
`python -m training evaluate FILE`):

| file | n | precision | recall | ROC AUC | FN | FP | needs_review | codes top-1 / top-3 |
|---|---|---|---|---|---|---|---|---|
{ood_rows}

Code ranker on a seeded 20% of curated lines (n={rh.get('n')}): top-1 {rh.get('top1')}, top-3
{rh.get('top3')} (optimistic: paraphrases of one item can sit on both sides).

Risk-coverage on {rc_name}: a wider review band decides fewer descriptions automatically and
gets fewer of them wrong.

| band | coverage | risk | missed controls |
|---|---|---|---|
{rc_rows}

## Known failure modes
- Wording far from both list text and curated examples (brand names, part numbers only) gives
  weak evidence; such descriptions drift into the review band.
- Parameters are read by pattern (value + unit); unusual units or values written in words are
  missed, and thresholds are learned as coarse bins, not read from the provision's logic, so
  near misses just below an entry's threshold are the main source of false positives.
- Percentages and purities count as a sign of control (controlled materials state them): an
  ordinary item stating one ("100% cotton", "glycerin 99.7%") can land in `needs_review`.
- Technology and software items described generically are hard to tell from the equipment.
- US x9xx and Wassenaar-only items are negatives for China's scope by design; candidates still
  show them with status `multilateral_only`.
- Suspended national items (Ann. 70/2025) are not positives; retrain when the suspension ends.

## Reproduce
`python -m training all` (build-dataset, train, publish): {report['timings']['total_s']} s of
training on this machine.
"""
