"""1,000 concurrent assessments through the real gunicorn server: every record is stored once,
the chain verifies, and editing one row afterwards is caught by ``verify-audit``.

Runs on a temp SQLite file and, when TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from service.audit import AuditStore, assessments
from service.auth import create_key
from service.db import make_engine, metadata

ROOT = Path(__file__).resolve().parent.parent
ASSESSMENTS = 1000
CLIENT_THREADS = 24
BODIES: list[dict[str, Any]] = [
    {
        "item": {"description": "Sm2Co17 samarium-cobalt permanent magnet rings, 28 MGOe"},
        "destination": "JP",
        "end_user": {"name": "Mitsubishi Heavy Industries Aero Engines", "type": "unknown"},
    },
    {
        "item": {"code": "1C902.a"},
        "destination": "JP",
        "end_user": {"name": "Tokyo Precision Motors K.K.", "type": "civil"},
        "end_use": "civil",
    },
    {"item": {"description": "区熔锗锭 5N, 3 kg"}, "destination": "US", "end_use": "civil"},
    {"item": {"description": "Cotton T-shirts, assorted sizes"}, "destination": "JP",
     "end_use": "civil", "end_user": {"type": "civil"}},
]


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """gunicorn as configured in gunicorn.conf.py on a free port: (base URL, API key)."""
    engine = make_engine(database_url)
    metadata.create_all(engine)
    key = create_key(engine, "load-test")
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DUC_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    (tmp_path / "metrics").mkdir()
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py",
         "service.wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, tmp_path / "gunicorn.log")
        yield base, key
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Block until /readyz answers 200, or fail with the server's log."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.2)
    pytest.fail(f"gunicorn not ready in 60 s:\n{log.read_text()[-3000:]}")


def post_assessment(base: str, key: str, n: int) -> tuple[int, str]:
    """POST assessment number ``n``: (status, id or error body)."""
    body = {**BODIES[n % len(BODIES)], "reference": f"load-{n}"}
    request = urllib.request.Request(
        f"{base}/v1/assessments", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())["id"]
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()[:300]


def verify_cli(database_url: str) -> subprocess.CompletedProcess[str]:
    """``python -m service verify-audit`` against the database."""
    return subprocess.run(
        [sys.executable, "-m", "service", "verify-audit"], cwd=ROOT, capture_output=True,
        text=True, env={**os.environ, "DATABASE_URL": database_url}, timeout=120,
    )


@pytest.mark.slow
def test_chain_holds_after_1000_concurrent_assessments_through_gunicorn(
    server: tuple[str, str], database_url: str
) -> None:
    base, key = server
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        results = list(pool.map(lambda n: post_assessment(base, key, n), range(ASSESSMENTS)))

    failures = [r for r in results if r[0] != 201]
    assert failures == []
    answered = {assessment_id for _, assessment_id in results}
    assert len(answered) == ASSESSMENTS

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(assessments.c.id, assessments.c.seq)).all()
        assert {r.id for r in rows} == answered  # every answered decision is on record, once
        assert sorted(r.seq for r in rows) == list(range(1, ASSESSMENTS + 1))
        report = AuditStore(engine).verify()
        assert report.ok, report.summary()
        assert report.count == ASSESSMENTS

        intact = verify_cli(database_url)
        assert intact.returncode == 0, intact.stdout + intact.stderr
        assert f"{ASSESSMENTS} assessments" in intact.stdout

        # One edited row, as a database owner could do it around the append-only triggers.
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.execute(text("DROP TRIGGER assessments_no_update"))
            else:
                conn.execute(text("ALTER TABLE assessments DISABLE TRIGGER assessments_append_only"))
            edited = conn.execute(text(
                "UPDATE assessments SET response = replace(response, '\"notice\":\"', "
                "'\"notice\":\"(edited) ') WHERE seq = 500"
            ))
            assert edited.rowcount == 1
        broken = verify_cli(database_url)
        assert broken.returncode == 1
        assert "BROKEN at assessments seq 500" in broken.stdout
    finally:
        engine.dispose()
