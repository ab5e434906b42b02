# Two stages: build a venv with the project, then copy it into a slim non-root runtime.
FROM python:3.11-slim AS build
WORKDIR /app
RUN python -m venv /venv
COPY pyproject.toml README.md ./
COPY service ./service
COPY training ./training
RUN /venv/bin/pip install --no-cache-dir '.[postgres]'

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PATH=/venv/bin:$PATH \
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    PROMETHEUS_MULTIPROC_DIR=/dev/shm/duc-metrics \
    DATABASE_URL=sqlite:////data/audit.db
RUN useradd --create-home --uid 10001 app && mkdir /data && chown app /data
WORKDIR /app
COPY --from=build /venv /venv
COPY --chown=app service ./service
COPY --chown=app data ./data
COPY --chown=app rules ./rules
COPY --chown=app artifacts ./artifacts
COPY --chown=app gunicorn.conf.py ./
USER app
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "--worker-tmp-dir", "/dev/shm", "service.wsgi:app"]
