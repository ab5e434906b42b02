"""The gunicorn entry point: ``gunicorn -c gunicorn.conf.py service.wsgi:app``."""

import gc

from service import create_app

app = create_app()
# The loaded model, catalogue and rules are ~200k long-lived objects. Frozen, the collector
# stops re-walking them (that cost classify_batch 30-50% of its throughput) and stops
# touching their pages, which after a preload fork would copy them into every worker.
gc.collect()
gc.freeze()
