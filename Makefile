# AI Studio Partner Portal: one entry point for setting up, running and testing.
#   make run    set up everything and run the portal on the embedded default (http://127.0.0.1:$(PORT)/)
#   make test   set up everything and run every check: lint, format, migrations, deploy check, pytest
# Every target that needs the virtualenv runs `setup` first; it is quick when nothing changed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:

VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
PORT ?= 8000
PYTEST_ARGS ?=
# Services mode: one ASGI worker process per core (websockets reach every process through
# channels_redis). The embedded default always runs ONE process: its in-memory channel layer,
# broker and Celery worker live inside that process and cannot be shared.
WEB_CONCURRENCY ?= $(shell nproc 2>/dev/null || echo 2)
# pytest-xdist worker processes for `make test` (0: one process, no xdist)
PYTEST_WORKERS ?= 2

.PHONY: help setup run test lint format check-migrations check-deploy messages worker beat services-run

help:
	@echo "make run             set up, migrate, seed the demo data, serve on http://127.0.0.1:$(PORT)/ (PORT=...)"
	@echo "make test            set up, then lint, format check, migrations check, deploy check, pytest (PYTEST_ARGS=..., PYTEST_WORKERS=2)"
	@echo "make lint            ruff check + ruff format --check"
	@echo "make format          ruff check --fix + ruff format"
	@echo "make check-deploy    manage.py check --deploy with the production settings"
	@echo "make worker          a Celery worker for services mode (needs REDIS_URL)"
	@echo "make beat            the one periodic-task scheduler for services mode (needs REDIS_URL)"
	@echo "make services-run    migrate + serve in services mode (needs DATABASE_URL and REDIS_URL)"
	@echo "make setup           system packages + .venv + python packages"

setup:
	@bash scripts/setup.sh

# Compiles the .po translations when there are any (needs gettext, installed by setup).
messages: setup
	@if find . -path ./$(VENV) -prune -o -name '*.po' -print -quit | grep -q .; then \
		echo "==> compilemessages"; \
		$(PY) manage.py compilemessages --ignore=$(VENV) --verbosity 0; \
	fi

run: setup messages
	$(PY) manage.py migrate --noinput
	PORT=$(PORT) $(PY) manage.py seed_demo || echo "The demo is incomplete (see above); the portal starts anyway." >&2
	@echo
	@echo "Sign in at http://127.0.0.1:$(PORT)/ with the logins above (Ctrl-C stops the server)"
	@echo "(one server process: the embedded default keeps its channel layer, broker and worker in memory)"
	@echo
	PORT=$(PORT) PORTAL_SERVER=1 $(VENV)/bin/uvicorn portal.asgi:application --host 127.0.0.1 --port $(PORT) --no-proxy-headers

test: setup lint check-migrations check-deploy messages
	@echo "==> pytest"
	$(PY) -m pytest --durations=15 -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: setup
	@echo "==> ruff check"
	$(RUFF) check .
	@echo "==> ruff format --check"
	$(RUFF) format --check .

format: setup
	$(RUFF) check --fix --exit-zero .
	$(RUFF) format .

check-migrations: setup
	@echo "==> makemigrations --check"
	$(PY) manage.py makemigrations --check --dry-run

# The hardened production settings must pass `check --deploy` with no warning at all. A fresh random
# 60-character key each time; variables that would weaken the settings are cleared for the check.
check-deploy: setup
	@echo "==> manage.py check --deploy (PORTAL_ENV=production)"
	env -u DEBUG -u SECURE_SSL_REDIRECT -u SECURE_HSTS_SECONDS \
		PORTAL_ENV=production ALLOWED_HOSTS=portal.example.com EMAIL_HOST=smtp.example.com C2PA_SIGNING_OFF=true \
		SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(45))')" \
		$(PY) manage.py check --deploy --fail-level WARNING

worker: setup
	@if [ -z "$${REDIS_URL:-}" ]; then \
		echo "REDIS_URL is not set: on the embedded default the worker runs inside 'make run'." >&2; \
		echo "For services mode: export DATABASE_URL=postgres://... REDIS_URL=redis://... and run again." >&2; \
		exit 1; \
	fi
	$(VENV)/bin/celery -A portal worker -Q default,tools -l info

# Periodic work in services mode (expired uploads, recovery passes): run exactly one.
beat: setup
	@if [ -z "$${REDIS_URL:-}" ]; then \
		echo "REDIS_URL is not set: on the embedded default periodic work runs inside 'make run'." >&2; \
		exit 1; \
	fi
	@mkdir -p data
	$(VENV)/bin/celery -A portal beat -l info --schedule data/celerybeat-schedule

services-run: setup messages
	@if [ -z "$${DATABASE_URL:-}" ] || [ -z "$${REDIS_URL:-}" ]; then \
		echo "services mode needs DATABASE_URL and REDIS_URL exported (see README)." >&2; \
		exit 1; \
	fi
	$(PY) manage.py migrate --noinput
	@echo
	@echo "Serving on http://127.0.0.1:$(PORT)/ with $(WEB_CONCURRENCY) worker processes (WEB_CONCURRENCY=...)"
	@echo "-- run 'make worker' in another terminal for tool runs and ingest."
	@echo
	$(VENV)/bin/uvicorn portal.asgi:application --host 127.0.0.1 --port $(PORT) --no-proxy-headers \
		--workers $(WEB_CONCURRENCY)
