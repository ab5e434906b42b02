"""Classification in process: the compiled scorer against the sklearn pipelines it was compiled from.

Measures single-description latency, batched throughput, scaling with description length and
batch size, model load time and (from the manifest) training time, on the shipped model, and
writes the ``classify`` section of docs/PERFORMANCE.md. The descriptions are the repo's
realistic lines (evaluation files and curated data), all distinct; the garbage collector runs,
with the loaded model frozen out of it as ``service.wsgi`` does.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import realistic_descriptions  # noqa: E402
from report import table, write_section  # noqa: E402

from service.artifacts import load_verified, resolve_version  # noqa: E402
from service.catalogue import Catalogue  # noqa: E402
from service.classifier import Classifier  # noqa: E402
from service.features import prepare  # noqa: E402
from service.reference import load_reference  # noqa: E402

# The examples, for the description-length rows.
TEXTS = [
    "Sm2Co17 samarium-cobalt permanent magnet rings, 28 MGOe, for servo motors",
    "区熔锗锭 5N, 3 kg",
    "consumer quadcopter 249 g, 4K camera",
    "Gallium arsenide wafers 6 inch, semi-insulating, EPD < 5000 cm-2",
    "高纯氧化锑 99.99% 粉末 25kg/桶",
    "cotton t-shirts, 100% cotton, size M, 500 pcs",
    "Centrifuge rotor tube, carbon fibre composite, 90,000 rpm",
    "Pressure transmitter 0-10 bar, 4-20 mA HART, 316L diaphragm",
    "硝酸铵化肥 50 kg袋装",
    "Frequency synthesizer 2-18 GHz, switching time 100 us, phase noise -110 dBc/Hz",
]


def per_text_us(fn: Callable[[str], object], texts: Sequence[str], rounds: int) -> list[float]:
    """Microseconds per call of ``fn(text)`` over every text, ``rounds`` times."""
    samples: list[float] = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            fn(text)
            samples.append((time.perf_counter() - start) * 1e6)
    return samples


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def best_pass_median(samples: Sequence[float], per_pass: int) -> float:
    """The lowest median over consecutive passes of ``per_pass`` samples."""
    passes = [samples[i : i + per_pass] for i in range(0, len(samples), per_pass)]
    return min(statistics.median(p) for p in passes if p)


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Run the benchmark and write its section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the single texts")
    parser.add_argument("--single", type=int, default=300, help="descriptions timed one by one")
    parser.add_argument("--batch-total", type=int, default=5000, help="descriptions per batch run")
    parser.add_argument("--batch-rounds", type=int, default=5, help="round-robin passes per path")
    args = parser.parse_args()

    artifacts = ROOT / "artifacts"
    version = resolve_version(artifacts)
    catalogue = Catalogue.from_reference(load_reference(ROOT / "data" / "reference"))
    gc.collect()
    rss_before = rss_mb()
    first, first_manifest = load_verified(artifacts / version)
    Classifier(first, first_manifest.version, catalogue).classify_batch(TEXTS)
    gc.collect()
    model_rss = rss_mb() - rss_before
    loads = []
    for _ in range(3):
        start = time.perf_counter()
        model, manifest = load_verified(artifacts / version)
        classifier = Classifier(model, manifest.version, catalogue)
        loads.append(time.perf_counter() - start)
    dual, ranker = model["dual_use"], model["ranker"]
    scorer = classifier.scorer
    descriptions = realistic_descriptions()
    # Every 6th, so the single texts are spread over all the files.
    singles = descriptions[:: max(1, len(descriptions) // args.single)][: args.single]
    for text in TEXTS:  # warm up lazy imports on both paths
        classifier.classify(text)
        dual.predict_proba(prepare([text]))
    gc.collect()
    gc.freeze()  # as service.wsgi does once the app is loaded

    def sklearn_one(text: str) -> None:
        x = prepare([text])
        dual.predict_proba(x)
        ranker.decision_function(x)

    def scorer_one(text: str) -> None:
        vector = scorer.vector(text)
        scorer.probability(vector)
        scorer.code_scores(vector)

    single = {
        "sklearn pipelines (baseline)": per_text_us(sklearn_one, singles[:100], 1),
        "compiled scorer (probability + code scores)": per_text_us(scorer_one, singles, args.rounds),
        "Classifier.classify (scores, top-5, evidence, pydantic)": per_text_us(
            classifier.classify, singles, args.rounds
        ),
    }
    base = statistics.median(single["sklearn pipelines (baseline)"])
    single_rows = [
        [name, f"{statistics.median(s):.0f}", f"{quantile(s, 0.95):.0f}",
         f"{best_pass_median(s, len(singles)):.0f}", f"{base / statistics.median(s):.1f}"]
        for name, s in single.items()
    ]

    corpus = (descriptions * (args.batch_total // len(descriptions) + 1))[: args.batch_total]

    def sklearn_batch(texts: list[str]) -> None:
        x = prepare(texts)
        dual.predict_proba(x)
        ranker.decision_function(x)

    paths = [
        ("sklearn pipelines (baseline)", sklearn_batch, 256),
        ("compiled scorer, score_batch", scorer.score_batch, 256),
        *[("Classifier.classify_batch (full results)", classifier.classify_batch, size)
          for size in (1, 16, 64, 256)],
    ]
    # Round-robin, one pass of every path per round: the host's speed drifts within a run, and
    # a slow minute then costs every path alike instead of whichever ran in it.
    rates: list[list[float]] = [[] for _ in paths]
    for _ in range(args.batch_rounds):
        for i, (_, fn, size) in enumerate(paths):
            total = min(len(corpus), 1000 if size == 1 else len(corpus))
            chunks = [corpus[j : j + size] for j in range(0, total, size)]
            start = time.perf_counter()
            for chunk in chunks:
                fn(chunk)
            rates[i].append(total / (time.perf_counter() - start))
    baseline = statistics.median(rates[0])
    runs = [(name, size, sorted(r, reverse=True)) for (name, _, size), r in zip(paths, rates, strict=True)]
    batch_rows = [
        [name, size, f"{r[0]:,.0f}", f"{statistics.median(r):,.0f}",
         f"{statistics.median(r) / baseline:.2f}"]
        for name, size, r in runs
    ]

    length_rows = []
    for length in (100, 1_000, 10_000):
        text = (" ".join(TEXTS) * (length // 400 + 1))[:length]
        s = per_text_us(classifier.classify, [text], max(5, args.rounds // 3))
        b = per_text_us(sklearn_one, [text], 5)
        length_rows.append([f"{length:,} chars", f"{statistics.median(s):.0f}",
                            f"{statistics.median(b):.0f}",
                            f"{statistics.median(b) / statistics.median(s):.1f}"])

    timings = manifest.metrics.get("timings_s", {})
    size_mb = (artifacts / version / "model.joblib").stat().st_size / 1e6
    median_classify = statistics.median(
        single["Classifier.classify (scores, top-5, evidence, pydantic)"]
    )
    scorer_batch = runs[1][2][0]
    full_batch = max(r[0] for _, _, r in runs[2:])
    full_median = statistics.median(runs[-1][2])
    body = f"""Model {version} ({size_mb:.1f} MB on disk, {scorer.n_features:,} features,
{len(scorer.codes)} codes).
Descriptions: the {len(descriptions):,} distinct lines of the repo's evaluation files and curated data.
Single: {len(singles)} of them, {args.rounds} passes; the sklearn baseline runs the same fitted
pipelines (`predict_proba` + `decision_function` on one prepared row) over 100 of them. The
collector runs, with the loaded model frozen out of it (`gc.freeze()`, as `service.wsgi` does).

{table(["path, one description", "median µs", "p95 µs", "best pass median µs",
        "× faster than sklearn"], single_rows)}

"Best pass": the lowest median of one pass, i.e. the time when no other job competed for the
core (the machine is shared).

Batched, {len(corpus):,} descriptions in chunks; {args.batch_rounds} round-robin rounds over the paths:

{table(["path", "batch size", "best descriptions/s", "median descriptions/s",
        "median × sklearn"], batch_rows)}

Description length (single `classify` vs sklearn pipelines):

{table(["length", "classify median µs", "sklearn median µs", "× faster"], length_rows)}

Model load (verify SHA-256 + unpickle + compile): {min(loads):.2f} s best of 3; the loaded,
compiled and warmed model adds {model_rss:.0f} MB RSS to a process (per gunicorn worker at
most, less where preload shares pages).
Training (from the manifest, `python -m training train`): {json.dumps(timings)}.

Bars: classify median {median_classify:.0f} µs (≤ 1000 µs); batched scoring (probability,
label threshold and ranked codes, what a bulk job over a product master needs)
{scorer_batch:,.0f} descriptions/s and full results with evidence {full_batch:,.0f}/s best,
{full_median:,.0f}/s median at batch 256 (bar ≥ 5,000/s). `uptime` load during the run:
{os.getloadavg()[0]:.2f} on 2 cores. The machine is a shared VM whose speed varies with its
neighbours (the same sklearn baseline has run 2-3x apart on different hours); the ratio
columns are the comparable figures. This is one core; the service classifies batches on both
(two workers): see `POST /v1/classify/batch` descriptions/s in the `http` section.
"""
    print(body)
    write_section("classify", "Classification in process", "python bench/bench_classify.py", body)


if __name__ == "__main__":
    main()
