"""Catalogue search latency in process, English and Chinese, against a plain code lookup.

Run: ``.venv/bin/python bench/bench_search.py [--rounds 30]``. Every query runs ``rounds``
times (after one warm-up pass) over the whole catalogue built from data/reference; the baseline
is ``Catalogue.get`` on real codes, timed the same way in the same run, so the ratio survives a
noisy machine. Also reports the catalogue build time (part of app start) and HS lookups.
Writes the ``search`` section of docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from report import table, write_section

from service.catalogue import Catalogue
from service.reference import load_reference
from service.settings import Settings

TARGET_MEDIAN_US = 5000.0
ENGLISH = [
    "gallium nitride", "samarium cobalt magnet", "lithium ion battery", "unmanned aerial vehicle",
    "analogue-to-digital converter", "nuclear reactor", "graphite", "germanium", "antimony",
    "synthetic diamond", "rare earth", "hydrogen fluoride", "isostatic press", "infrared camera",
    "tungsten", "counter-UAV laser", "frequency changer", "carbon fibre prepreg",
    "maraging steel", "centrifugal separator", "triethanolamine", "bacillus anthracis",
    "gyroscope drift rate", "machine tool positioning accuracy", "spray drying equipment",
    "hot cell radiation shielding window", "rocket motor case", "quantum cryptography",
    "high-power laser 1.5 kW", "zirconium tubes", "vacuum pump", "fermenter 20 litre",
    "terbium oxide", "rare earth extraction equipment", "bismuth germanate",
    "indium phosphide wafer", "tellurium", "electronic jamming", "synthetic aperture radar",
    "3C001", "1c902.a",
]
CHINESE = [
    "氮化镓", "金属镓", "锗", "区熔锗锭", "锑", "石墨", "人造石墨负极材料", "钐钴永磁", "氧化钐",
    "稀土", "稀土永磁", "锂离子电池", "无人机", "反无人机", "六面顶压机", "金刚石", "人造金刚石微粉",
    "钨", "碲化镉", "磷化铟", "铋", "钬", "萃取剂", "离心萃取设备", "氮化鎵", "雷达", "激光器",
]


def timings(call: Callable[[str], object], inputs: Sequence[str], rounds: int) -> list[float]:
    """Microseconds per call, every input ``rounds`` times, after one warm-up pass."""
    for value in inputs:
        call(value)
    samples = []
    gc.disable()  # collections would land on random queries; they are measured separately
    try:
        for _ in range(rounds):
            for value in inputs:
                started = time.perf_counter_ns()
                call(value)
                samples.append((time.perf_counter_ns() - started) / 1000)
    finally:
        gc.enable()
    return samples


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile."""
    return statistics.median(samples), statistics.quantiles(samples, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    reference = load_reference(Settings().reference_dir)
    builds = []
    for _ in range(3):
        started = time.perf_counter()
        catalogue = Catalogue.from_reference(reference)
        builds.append(time.perf_counter() - started)
    codes = [r.code for r in catalogue][:: max(len(catalogue) // 500, 1)]
    hs_codes = ["8541", "2805301910", "85", "71051020", "3818009001", "8112", "2846", "9013200093"]

    cases = [
        ("get(code) — baseline", timings(catalogue.get, codes, args.rounds)),
        (f"search, English ({len(ENGLISH)} queries)", timings(catalogue.search, ENGLISH, args.rounds)),
        (f"search, Chinese ({len(CHINESE)} queries)", timings(catalogue.search, CHINESE, args.rounds)),
        ("search, all queries", timings(catalogue.search, ENGLISH + CHINESE, args.rounds)),
        ("search, limit=100", timings(lambda q: catalogue.search(q, limit=100), ENGLISH + CHINESE,
                                      args.rounds)),
        ("by_hs(hs)", timings(catalogue.by_hs, hs_codes, args.rounds)),
    ]
    base_median = summary(cases[0][1])[0]
    rows = []
    for name, samples in cases:
        median, p95 = summary(samples)
        rows.append((name, len(samples), f"{median:.1f}", f"{p95:.1f}", f"{median / base_median:.1f}"))
    search_median = summary(cases[3][1])[0]
    verdict = "meets" if search_median < TARGET_MEDIAN_US else "MISSES"
    body = "\n\n".join([
        f"In process, over the whole catalogue ({len(catalogue)} records, {len(codes)} codes for the "
        f"baseline); {args.rounds} rounds of every query after a warm-up pass, GC paused while timing.",
        table(("operation", "calls", "median µs", "p95 µs", "× get median"), rows),
        f"Search median {search_median:.0f} µs: {verdict} the < {TARGET_MEDIAN_US:.0f} µs target. "
        f"Catalogue build at start (records, search index, HS index): "
        f"{min(builds):.2f} s best of 3 (median {statistics.median(builds):.2f} s).",
    ])
    print(body)
    write_section("search", "Catalogue search in process", "python bench/bench_search.py", body)


if __name__ == "__main__":
    main()
