"""The descriptions benchmarks run on: the repo's realistic lines, all distinct."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def realistic_descriptions() -> list[str]:
    """Every distinct description of the repo's labelled realistic lines, in file order."""
    files = [*sorted((ROOT / "tests" / "data").glob("*.jsonl")),
             *sorted((ROOT / "training" / "data" / "curated").glob("*.jsonl"))]
    texts = [json.loads(line)["text"] for path in files
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(dict.fromkeys(t for t in texts if t.strip()))
