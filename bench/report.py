"""Shared by the benchmarks: markdown tables and their own section in docs/PERFORMANCE.md."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

PERFORMANCE_MD = Path(__file__).resolve().parent.parent / "docs" / "PERFORMANCE.md"
HEADER = (
    "# Performance\n\n"
    "Every figure below is written by a script in `bench/`; rerun it to refresh its section "
    "(`make bench` runs them all). Machines here are noisy, so each benchmark compares against "
    "a baseline measured in the same run and reports the ratio.\n"
)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """One line describing where the numbers were taken."""
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )


def write_section(name: str, title: str, command: str, body: str) -> None:
    """Replace (or append) this benchmark's section of docs/PERFORMANCE.md."""
    section = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"Command: `{command}` ({machine()})\n\n{body.strip()}\n<!-- /bench:{name} -->"
    )
    text = PERFORMANCE_MD.read_text() if PERFORMANCE_MD.exists() else HEADER
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    PERFORMANCE_MD.parent.mkdir(exist_ok=True)
    PERFORMANCE_MD.write_text(text.rstrip() + "\n")
