"""Rules engine and party screening speed, in process.

Run: ``.venv/bin/python bench/bench_rules.py [--facts 5000]``. Evaluates every rule set against
random fact combinations (fixed seed) and screens every listed spelling plus near misses.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import table, write_section
from service.parties import PartyScreener
from service.reference import load_reference
from service.rules import Facts, load_rules
from service.settings import REPO_ROOT

NEAR_MISSES = ["Mitsubishi Electric", "Kawasaki Heavy Industries", "IHI Corporation",
               "三菱电机株式会社", "Acme Trading GmbH", "Sumitomo Electric Industries"]


def random_facts(rng: random.Random) -> Facts:
    """One random combination of facts."""
    return Facts(
        item_status=rng.choice(["cn_listed", "multilateral_only", "not_listed", "unknown"]),
        code=rng.choice([None, "1C902.a", "1C909.b", "2B352.f.1"]),
        item_groups=rng.sample(["gallium", "antimony", "rare_earth", "graphite"], rng.randint(0, 2)),
        destination=rng.choice(["JP", "US", "DE", "KR"]),
        end_user_type=rng.choice(["military", "civil", "government", "unknown"]),
        end_use=rng.choice(["military", "mil_capability", "wmd", "terror", "civil", "unknown"]),
        party_lists=rng.sample(["control", "watch"], rng.randint(0, 1)),
        party_countries=rng.sample(["JP", "US"], rng.randint(0, 1)),
        exporter_country=rng.choice(["CN", "CN", "SG"]),
        chinese_origin=rng.random() < 0.8,
        purpose=rng.choice(["sale", "exhibition", "repair_return"]),
        risk_known=rng.random() < 0.1,
    )


def timed(calls: list[Callable[[], object]], repeat: int = 1) -> list[float]:
    """Microseconds per call."""
    out = []
    for _ in range(repeat):
        for call in calls:
            start = time.perf_counter()
            call()
            out.append((time.perf_counter() - start) * 1e6)
    return out


def summary(samples: list[float]) -> list[str]:
    """Mean, median and p99 in microseconds."""
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return [f"{statistics.fmean(samples):.0f}", f"{statistics.median(samples):.0f}", f"{p99:.0f}"]


def main() -> None:
    """Measure and write the section."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=5000)
    args = parser.parse_args()
    start = time.perf_counter()
    engine = load_rules(REPO_ROOT / "rules")
    load_ms = (time.perf_counter() - start) * 1e3
    reference = load_reference(REPO_ROOT / "data" / "reference")
    start = time.perf_counter()
    screener = PartyScreener.from_reference(reference)
    screener_ms = (time.perf_counter() - start) * 1e3

    rng = random.Random(0)
    facts = [random_facts(rng) for _ in range(args.facts)]
    day = date(2026, 11, 28)
    rules_us = timed([lambda f=f: engine.evaluate(f, day) for f in facts])
    names = [s for p in reference.parties for s in screener.spellings(p)] + NEAR_MISSES
    screen_us = timed([lambda n=n: screener.screen(n) for n in names], repeat=5)

    rows = [
        ["RuleEngine.evaluate", f"{len(facts)} random fact sets, {len(engine.rules)} rules",
         *summary(rules_us)],
        ["PartyScreener.screen", f"{len(names)} names x5 vs {len(names) - len(NEAR_MISSES)} spellings",
         *summary(screen_us)],
    ]
    body = table(["call", "input", "mean µs", "median µs", "p99 µs"], rows)
    body += (f"\n\nLoading: rule sets {load_ms:.0f} ms (validation included), screener "
             f"{screener_ms:.0f} ms (normalising every spelling once).")
    print(body)
    write_section("rules", "Rules engine and party screening (in process)",
                  ".venv/bin/python bench/bench_rules.py", body)


if __name__ == "__main__":
    main()
