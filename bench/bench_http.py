"""HTTP load: the real gunicorn server from gunicorn.conf.py, loaded by wrk from another process.

Run: ``.venv/bin/python bench/bench_http.py [--duration 5] [--connections 1 8 32]``.
Every endpoint's throughput is reported as a ratio of the bare endpoint's (POST /bench/bare:
parses the same JSON body, does nothing else) at the same connection count, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import realistic_descriptions
from report import table, write_section
from server import create_api_key, gunicorn

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100  # descriptions per /v1/classify/batch call


@dataclass
class Target:
    """One endpoint under load."""

    name: str
    method: str
    path: str
    bodies: list[dict] | None = None
    auth: bool = False
    descriptions: int = 0  # classified per request


def targets() -> list[Target]:
    """The endpoints measured, the bare baseline first."""
    texts = realistic_descriptions()
    classify = [{"description": d} for d in texts]
    batch = [{"items": [{"id": f"r{i}", "description": d} for i, d in enumerate(texts[j : j + BATCH])]}
             for j in range(0, len(texts) - BATCH + 1, BATCH)]
    assessments = [
        {
            "item": {"description": d},
            "destination": "JP",
            "end_user": {"name": "Tokyo Precision Motors K.K.", "country": "JP", "type": "civil"},
            "end_use": "civil",
            "exporter_country": "CN",
            "chinese_origin": True,
            "reference": f"PO-{i}",
        }
        for i, d in enumerate(texts[:500])
    ]
    return [
        Target("bare POST /bench/bare", "POST", "/bench/bare", classify),
        Target("GET /healthz", "GET", "/healthz"),
        Target("GET /v1/codes?q=", "GET", "/v1/codes?q=gallium%20nitride&limit=10"),
        Target("POST /v1/classify", "POST", "/v1/classify", classify, auth=True, descriptions=1),
        Target(f"POST /v1/classify/batch ({BATCH})", "POST", "/v1/classify/batch", batch, auth=True,
               descriptions=BATCH),
        Target("POST /v1/assessments", "POST", "/v1/assessments", assessments, auth=True,
               descriptions=1),
    ]


def available(base: str, target: Target, key: str) -> bool:
    """Whether the endpoint exists on this build (answers anything but 404/405)."""
    data = json.dumps(target.bodies[0]).encode() if target.bodies else None
    request = urllib.request.Request(
        base + target.path, data=data, method=target.method,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status < 400
    except urllib.error.HTTPError as error:
        print(f"  {target.name}: HTTP {error.code} {error.read()[:200]!r}", file=sys.stderr)
        return False


def run_wrk(base: str, target: Target, key: str, connections: int, duration: int, workdir: Path) -> dict:
    """Load one endpoint; parse wrk's summary."""
    env = {**os.environ, "WRK_METHOD": target.method}
    if target.bodies:
        body_file = workdir / "bodies.jsonl"
        body_file.write_text("\n".join(json.dumps(b, ensure_ascii=False) for b in target.bodies) + "\n")
        env["WRK_BODY_FILE"] = str(body_file)
    if target.auth:
        env["WRK_API_KEY"] = key
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s",
         "-s", str(ROOT / "bench" / "post.lua"), base + target.path],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(map(int, socket_errors.groups())) if socket_errors else 0
    )
    return {
        "rps": rps,
        "requests": requests,
        "p50": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),
        "errors": errors,
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def main() -> None:
    """Run the load matrix and write the report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="duc-bench-"))
    database_url = f"sqlite:///{workdir / 'audit.db'}"
    key = create_api_key(database_url)
    results: list[tuple[Target, int, dict]] = []
    with gunicorn(database_url, workdir) as server:
        live = [t for t in targets() if available(server.base, t, key)]
        for connections in args.connections:
            for target in live:
                result = run_wrk(server.base, target, key, connections, args.duration, workdir)
                results.append((target, connections, result))
                print(f"{target.name:32} c={connections:<3} {result['rps']:9.1f} req/s "
                      f"p50 {result['p50']:.2f} ms p99 {result['p99']:.2f} ms errors {result['errors']}")

    bare = {c: r["rps"] for t, c, r in results if t.path == "/bench/bare"}
    rows = [
        (t.name, c, f"{r['rps']:.0f}", f"{r['rps'] * t.descriptions:,.0f}" if t.descriptions else "-",
         f"{r['p50']:.2f}", f"{r['p99']:.2f}", r["errors"],
         f"{r['rps'] / bare[c]:.2f}" if bare.get(c) else "-")
        for t, c, r in results
    ]
    headers = ["endpoint", "connections", "req/s", "descriptions/s", "p50 ms", "p99 ms", "errors",
               "× bare"]
    print(table(headers, rows))
    missing = [t.name for t in targets() if t.name not in {r[0].name for r in results}]
    note = f"\n\nNot measured (absent or failing on this build): {', '.join(missing)}." if missing else ""
    write_section(
        "http",
        "HTTP under gunicorn (wrk, loopback)",
        f"python bench/bench_http.py --duration {args.duration}",
        "Server: `gunicorn -c gunicorn.conf.py service.wsgi:app` (2 sync workers, preload), SQLite "
        "audit DB, rate limits off; wrk runs as a separate process on the same 2 cores, so absolute "
        "numbers understate a real deployment. Bodies cycle through the repo's distinct realistic "
        f"descriptions (`bench/corpus.py`); a batch call carries {BATCH} of them.\n\n"
        + table(headers, rows) + note,
    )


if __name__ == "__main__":
    main()
