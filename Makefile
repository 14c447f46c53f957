# RTCC Relay. The README's two commands: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint typecheck pytest serve demo-reset clean

# The venv is rebuilt only when a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Embedded: SQLite, in-memory channel layer, tasks in process, demo city loaded.
demo: export RTCC_DEMO=1
demo: $(VENV)/.installed
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo
	@echo "RTCC Relay: http://$(HOST):$(PORT)/api/v1/docs/  (Ctrl-C stops)"
	DEMO_HOST=$(HOST) DEMO_PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile.demo

demo-reset: export RTCC_DEMO=1
demo-reset: $(VENV)/.installed
	rm -f var/rtcc.sqlite3
	rm -rf var/media
	$(MAKE) demo

test: $(VENV)/.installed lint typecheck pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed
	$(VENV)/bin/pytest -n 2 --dist loadfile

# Production profile: two Daphne processes, a Celery worker and beat, on PostgreSQL and Redis.
serve: $(VENV)/.installed
	@test -n "$$DATABASE_URL" || { echo "serve needs DATABASE_URL (postgres://...)"; exit 2; }
	@test -n "$$REDIS_URL" || { echo "serve needs REDIS_URL (redis://...)"; exit 2; }
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input
	$(VENV)/bin/honcho start -f Procfile

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache clients/node_modules
