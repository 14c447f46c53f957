# RTCC Relay. The README's two commands: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# make demo-totp USER=ava: USER only when given on the command line (the shell's USER is the login name).
USER_NAME := $(if $(filter command line,$(origin USER)),$(USER),)

.PHONY: demo test lint typecheck pytest bench-smoke serve demo-reset demo-totp demo-credentials clean

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

# A demo user's current TOTP code: make demo-totp USER=ava
demo-totp: export RTCC_DEMO=1
demo-totp: $(VENV)/.installed
	@test -n "$(USER_NAME)" || { echo "usage: make demo-totp USER=<username>, e.g. USER=ava"; exit 2; }
	@$(PY) manage.py demo_totp "$(USER_NAME)"

# New passwords for the demo users, printed with their TOTP secrets (the first load's are shown once).
demo-credentials: export RTCC_DEMO=1
demo-credentials: $(VENV)/.installed
	$(PY) manage.py demo_credentials

test: $(VENV)/.installed lint typecheck pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

pytest: $(VENV)/.installed
	$(VENV)/bin/pytest -n 2 --dist loadfile

# Every bench in smoke mode (seconds, small sizes), one after another on the DATABASE_URL server: a bench
# that no longer runs fails here (.ci/run), not months later. BENCHES=... picks some.
BENCHES ?= $(filter-out bench/_%,$(wildcard bench/*.py))
bench-smoke: $(VENV)/.installed
	@mkdir -p var; failed=""; for bench in $(BENCHES); do \
	  echo "== $$bench --smoke"; start=$$(date +%s); \
	  $(PY) $$bench --smoke > var/bench-smoke.log 2>&1 || failed="$$failed $$bench"; \
	  tail -n 1 var/bench-smoke.log; echo "   ($$(( $$(date +%s) - start )) s)"; \
	  case "$$failed" in *$$bench) tail -n 30 var/bench-smoke.log;; esac; \
	done; test -z "$$failed" || { echo "bench smoke failed:$$failed"; exit 1; }

# Production profile: two Daphne processes, a Celery worker and beat, on PostgreSQL and Redis.
serve: $(VENV)/.installed
	@test -n "$$DATABASE_URL" || { echo "serve needs DATABASE_URL (postgres://...)"; exit 2; }
	@test -n "$$REDIS_URL" || { echo "serve needs REDIS_URL (redis://...)"; exit 2; }
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input
	$(VENV)/bin/honcho start -f Procfile

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache clients/node_modules
