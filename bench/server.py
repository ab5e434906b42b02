"""The real gunicorn server from gunicorn.conf.py, started for a benchmark and stopped after."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Server:
    """A running server: its base URL and master pid."""

    base: str
    pid: int


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(database_url: str, workdir: Path, **env: str) -> Iterator[Server]:
    """Serve on ``database_url`` with rate limits off and the bare endpoint on, until /readyz."""
    port = free_port()
    (workdir / "metrics").mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DUC_BIND": f"127.0.0.1:{port}",
        "DUC_BENCH_ENDPOINT": "1",
        "DUC_RATE_LIMIT": "",
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        **env,
    }
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "service.wsgi:app"],
            cwd=ROOT, env=environment, stdout=log, stderr=log, start_new_session=True,
        )
        server = Server(f"http://127.0.0.1:{port}", process.pid)
        try:
            deadline = time.monotonic() + 90
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not become ready; see {log_path}")
                try:
                    with urllib.request.urlopen(f"{server.base}/readyz", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.3)
            yield server
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def create_api_key(database_url: str, organisation: str = "bench") -> str:
    """A key made by the operator CLI, as a user would."""
    out = subprocess.run(
        [sys.executable, "-m", "service", "create-key", organisation],
        env={**os.environ, "DATABASE_URL": database_url}, cwd=ROOT,
        check=True, capture_output=True, text=True,
    ).stdout
    return out.strip().splitlines()[-1]
