"""Memory per gunicorn worker with and without preload (model shared copy-on-write or not).

Run: ``.venv/bin/python bench/bench_memory.py``. Reads /proc/<pid>/smaps_rollup of the master
and each worker after warming every worker with classify requests: RSS counts shared pages in
every process, PSS splits them between the sharers, USS (private) is what a worker adds.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import table, write_section
from server import create_api_key, gunicorn


def smaps(pid: int) -> dict[str, int]:
    """Rss, Pss and private (USS) memory of a process in MiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, amount, *_ = line.split()
        values[name.rstrip(":")] = int(amount)
    private = values.get("Private_Clean", 0) + values.get("Private_Dirty", 0)
    return {"rss": values["Rss"] // 1024, "pss": values["Pss"] // 1024, "uss": private // 1024}


def children(pid: int) -> list[int]:
    """Worker pids of a gunicorn master."""
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def warm(base: str, key: str, requests: int = 200) -> None:
    """Exercise every worker so lazily touched pages are counted."""
    body = json.dumps({"description": "Sm2Co17 magnet rings 28 MGOe"}).encode()
    for _ in range(requests):
        request = urllib.request.Request(
            f"{base}/v1/classify", data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def measure(preload: bool) -> list[tuple]:
    """Start a server, warm it, and read each process's memory."""
    mode = "preload" if preload else "no preload"
    workdir = Path(tempfile.mkdtemp(prefix="duc-mem-"))
    database_url = f"sqlite:///{workdir / 'audit.db'}"
    key = create_api_key(database_url)
    with gunicorn(database_url, workdir, DUC_PRELOAD="1" if preload else "0") as server:
        warm(server.base, key)
        time.sleep(0.5)
        rows = [(mode, "master", *smaps(server.pid).values())]
        for i, pid in enumerate(children(server.pid)):
            rows.append((mode, f"worker {i + 1}", *smaps(pid).values()))
        return rows


def main() -> None:
    """Measure both modes and write the report."""
    rows = measure(True) + measure(False)
    headers = ["mode", "process", "RSS MiB", "PSS MiB", "private MiB"]
    print(table(headers, rows))
    write_section(
        "memory",
        "Memory per worker (2 sync workers, after 200 classify requests)",
        "python bench/bench_memory.py",
        "With preload the master loads data, rules and model once and the workers share those "
        "pages copy-on-write, so a worker's private memory is what it adds; without preload "
        "every worker loads its own copy.\n\n" + table(headers, rows),
    )


if __name__ == "__main__":
    main()
