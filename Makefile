# Two commands on a fresh machine: `make serve` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# One BLAS thread per process: gunicorn workers already use both cores.
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: setup serve test lint train bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

serve: setup
	@mkdir -p var
	@echo "Create an API key with: $(PY) -m service create-key <organisation>"
	$(VENV)/bin/gunicorn -c gunicorn.conf.py service.wsgi:app

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check service training tests bench

train: setup
	$(PY) -m training build-dataset
	$(PY) -m training train
	$(PY) -m training publish

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
