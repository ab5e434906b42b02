"""Gunicorn settings; worker class and count chosen by measurement (docs/PERFORMANCE.md)."""

import os

bind = os.environ.get("DUC_BIND", "0.0.0.0:8000")
# 2 sync workers served short CPU-bound JSON requests best on 2 cores; gthread let
# keep-alive clients pile onto one worker.
workers = int(os.environ.get("DUC_WORKERS", "2"))
worker_class = "sync"
# The master loads and verifies data, model and rules once; workers share them copy-on-write.
preload_app = True
timeout = 30
graceful_timeout = 30
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
accesslog = None
errorlog = "-"
limit_request_line = 8190
