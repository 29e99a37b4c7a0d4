# Plaza: `make run` serves it, `make test` checks it. Both set everything up first.
# Needs only Python 3.11+ and make. Override the interpreter with `make run PYTHON=python3.12`.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup run run-distributed demo test lint format typecheck pytest fuzz test-postgres test-distributed audit lock lock-check clean

help:
	@echo "make run            set up (venv, deps, SQLite, migrations) and serve http://$(HOST):$(PORT)"
	@echo "make demo           same, with demo users and posts loaded first"
	@echo "make run-distributed  the distributed mode: throwaway PostgreSQL + Redis, a Celery worker"
	@echo "make test           set up, then ruff, the layer contracts, mypy and the whole pytest suite (SQLite)"
	@echo "make pytest         the pytest suite alone, in parallel (PYTEST_ARGS= passes options)"
	@echo "make fuzz           the schema fuzzing at depth: FUZZ_MAX_EXAMPLES=100 per operation"
	@echo "make test-postgres  the pytest suite against a throwaway local PostgreSQL"
	@echo "make test-distributed  the distributed-mode tests on throwaway PostgreSQL + Redis"
	@echo "make audit          pip-audit: known vulnerabilities in the pinned dependencies"
	@echo "make lock           requirements*.txt from pyproject.toml (uv); UPGRADE=\"NAME ...\" moves pins"
	@echo "make lock-check     fail if requirements*.txt are not what make lock would write"
	@echo "make bench-data     a benchmark data set: SIZE=small|medium|large DB=sqlite|postgres"
	@echo "make bench          load benchmark with wrk (bench/README.md): SIZE=medium DB=sqlite|postgres"
	@echo "                    DURATION=10 CONNECTIONS=16 THREADS=2 BENCH_WORKERS=2 SERVERS= ENDPOINTS="
	@echo "                    REDIS=1: the distributed mode (throwaway Redis + one Celery worker)"
	@echo "make bench-fanout   fan-out to Redis timelines with one Celery worker: SIZE=large DB=..."
	@echo "make bench-ws       WebSocket delivery on one uvicorn process: CLIENTS=1000 DB=sqlite|postgres"
	@echo "make bench-media    pictures: processing time and memory, uploads (both modes), feed with pictures"
	@echo "                    REDIS=1 (Redis channel layer) DURATION=30 RATE=100 (writes/s) USERS="
	@echo "                    COMPRESSION=none (clients offer no permessage-deflate) BENCH_ENV="
	@echo "make format         apply ruff's fixes and formatting"
	@echo "make clean          remove the venv, the database and collected static files"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "Plaza needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)." \
		  "Run again with PYTHON=python3.11 (or newer)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record which pinned set is installed; editing a requirements file reinstalls. Both
# files are complete (make lock): `pip check` proves the installed set is consistent.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip check
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip check
	@touch $@ $(VENV)/.runtime

# requirements.txt and requirements-dev.txt, generated from pyproject.toml by uv's resolver
# (scripts/lock.sh): every pin already there is kept while it still fits; UPGRADE="django
# pillow==13.0.1" moves those pins. lock-check (CI) fails if the files are not what lock makes.
UPGRADE ?=
lock: $(VENV)/.dev
	scripts/lock.sh $(foreach p,$(UPGRADE),--upgrade-package $(p))

lock-check: $(VENV)/.dev
	scripts/lock.sh --check

# A local secret key, made once and kept out of git. Production sets SECRET_KEY itself.
.env:
	@$(PYTHON) -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(50))' > .env
	@echo "Wrote .env with a new SECRET_KEY (see .env.example for every setting)."

setup: $(VENV)/.runtime .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

run: setup
	@echo "Plaza on http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/docs/)"
	$(BIN)/python -m config.serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

demo: setup
	$(BIN)/python manage.py seed_demo
	$(MAKE) --no-print-directory run

# The distributed mode on one machine, for development: throwaway PostgreSQL and Redis, one
# Celery worker, uvicorn, demo data; everything is deleted on Ctrl-C.
run-distributed: $(VENV)/.runtime .env
	HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) \
		scripts/with-postgres.sh scripts/with-redis.sh scripts/run-distributed.sh

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.dev .env
	$(BIN)/mypy .

# One worker per core, each test file kept on one worker (module fixtures stay shared).
# The schema fuzzing runs a quick pass here (5 examples per operation); `make fuzz` digs.
PARALLEL := -n auto --dist loadfile
# pytest keeps its assertion rewrites of test modules and plugins as bytecode; where the
# environment forbids bytecode every process of the suite would redo them.
pytest fuzz test-postgres test-distributed: export PYTHONDONTWRITEBYTECODE :=
pytest: $(VENV)/.dev .env
	$(BIN)/pytest $(PARALLEL) $(PYTEST_ARGS)

FUZZ_MAX_EXAMPLES ?= 100
fuzz: $(VENV)/.dev .env
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) $(BIN)/pytest -n auto tests/test_schemathesis.py $(PYTEST_ARGS)

test: lint typecheck pytest

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suite against a throwaway PostgreSQL cluster on a loopback port (scripts/with-postgres.sh).
test-postgres: $(VENV)/.dev .env
	scripts/with-postgres.sh $(BIN)/pytest $(PARALLEL) $(PYTEST_ARGS)

# The distributed mode's tests (Redis timelines, fan-out, a real Celery worker) against
# throwaway PostgreSQL and Redis servers (apt-get install postgresql redis-server).
test-distributed: $(VENV)/.dev .env
	scripts/with-postgres.sh scripts/with-redis.sh $(BIN)/pytest -m redis $(PYTEST_ARGS)

# Known vulnerabilities in every pinned dependency (runtime and development), from the
# advisories the package index publishes per release; scripts/audit.py runs pip-audit and
# judges its answer: a vulnerability, or a pin that could not be checked, fails; SKIPPED where
# the advisories cannot be reached from here (AUDIT_ARGS=--no-skip: fail then too).
AUDIT_ARGS ?=
audit: $(VENV)/.dev
	$(BIN)/python scripts/audit.py requirements.txt requirements-dev.txt $(AUDIT_ARGS)

# Load benchmarks (bench/README.md). SQLite data sets are kept in .tmp/bench/SIZE.sqlite3 and
# reused; DB=postgres builds its data set inside a throwaway cluster on every `make bench`.
SIZE ?= medium
DB ?= sqlite
DURATION ?= 10
CONNECTIONS ?= 16
THREADS ?= 2
BENCH_WORKERS ?= 2
SERVERS ?=
ENDPOINTS ?= all
BENCH_ENV ?=
REDIS ?=
WORKER_POOL ?= solo
FANOUT_READ_LOAD ?= 0
CLIENTS_MEDIA ?= 4
UPLOADS ?= 40
.PHONY: bench-data bench bench-fanout bench-ws bench-media

bench-data: $(VENV)/.runtime .env
	$(BIN)/python bench/run.py data --size $(SIZE) --db $(DB) $(foreach e,$(BENCH_ENV),--env $(e))

bench: $(VENV)/.runtime .env
	@command -v wrk >/dev/null 2>&1 || \
		{ echo "make bench needs wrk, the HTTP load generator: apt-get install wrk"; exit 1; }
	@test -z "$(filter 1 yes true,$(REDIS))" || command -v redis-server >/dev/null 2>&1 || \
		{ echo "make bench REDIS=1 needs redis-server: apt-get install redis-server"; exit 1; }
	$(BIN)/python bench/run.py run --size $(SIZE) --db $(DB) --duration $(DURATION) \
		--connections $(CONNECTIONS) --threads $(THREADS) --workers $(BENCH_WORKERS) \
		--endpoints $(ENDPOINTS) $(if $(SERVERS),--servers $(SERVERS)) \
		$(if $(filter 1 yes true,$(REDIS)),--redis --worker-pool $(WORKER_POOL)) \
		$(foreach e,$(BENCH_ENV),--env $(e))

# The distributed mode's fan-out (bench/README.md): a throwaway Redis, one Celery worker.
bench-fanout: $(VENV)/.runtime .env
	@command -v redis-server >/dev/null 2>&1 || \
		{ echo "make bench-fanout needs redis-server: apt-get install redis-server"; exit 1; }
	$(BIN)/python bench/run.py fanout --size $(SIZE) --db $(DB) --workers $(BENCH_WORKERS) \
		--worker-pool $(WORKER_POOL) --read-connections $(FANOUT_READ_LOAD) \
		$(foreach e,$(BENCH_ENV),--env $(e))

# WebSocket delivery (bench/README.md): CLIENTS WebSockets on one uvicorn process while
# threads like, comment and message through the REST API; a fresh data set every run.
# DURATION is passed only when given (command line or environment): the shared default of 10
# above is wrk's, and this benchmark's own default is 30 s, past one heartbeat round.
CLIENTS ?= 1000
RATE ?= 100
USERS ?=
COMPRESSION ?=
# What processing an upload costs (time, peak memory) and uploads per second (bench/README.md).
bench-media: $(VENV)/.dev .env
	$(BIN)/python bench/media.py run --clients $(CLIENTS_MEDIA) --uploads $(UPLOADS)

bench-ws: $(VENV)/.runtime .env
	@test -z "$(filter 1 yes true,$(REDIS))" || command -v redis-server >/dev/null 2>&1 || \
		{ echo "make bench-ws REDIS=1 needs redis-server: apt-get install redis-server"; exit 1; }
	$(BIN)/python bench/ws.py run --clients $(CLIENTS) --db $(DB) --rate $(RATE) \
		$(if $(filter-out default file,$(origin DURATION)),--duration $(DURATION)) \
		$(if $(USERS),--users $(USERS)) $(if $(COMPRESSION),--compression $(COMPRESSION)) \
		$(if $(filter 1 yes true,$(REDIS)),--redis) $(foreach e,$(BENCH_ENV),--env $(e))

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-* .tmp .pytest_cache .mypy_cache .ruff_cache
