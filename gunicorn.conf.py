"""Gunicorn settings; worker class and count chosen by measurement (docs/PERFORMANCE.md)."""

import os
import shutil
import tempfile

bind = os.environ.get("DUC_BIND", "0.0.0.0:8000")
# 2 sync workers served short CPU-bound JSON requests best on 2 cores; gthread let
# keep-alive clients pile onto one worker.
workers = int(os.environ.get("DUC_WORKERS", "2"))
worker_class = "sync"
# The master loads and verifies data, model and rules once; workers share them copy-on-write.
preload_app = os.environ.get("DUC_PRELOAD", "1") != "0"
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycling is a cheap re-fork from the preloaded master, but at ~1,000 req/s per worker a
# 2,000 limit recycled every 2 s and put 0.5 s spikes into p99 (bench/bench_http.py).
max_requests = 50_000
max_requests_jitter = 5_000
accesslog = None
errorlog = "-"
limit_request_line = 8190

# Metrics from all workers meet in one directory; it must exist, empty, before the app loads.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"duc-metrics-{bind.rsplit(':', 1)[-1]}"),
)
shutil.rmtree(_metrics_dir, ignore_errors=True)
os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):
    """Drop a dead worker's live gauges from the aggregate."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
