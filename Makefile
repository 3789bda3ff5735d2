# OMS — the two commands are `make run` and `make test`; everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PYTEST_ARGS ?= -n 2

.PHONY: run test lint format typecheck bench lock clean-venv

# The virtualenv is rebuilt whenever a lock file changes.
$(BIN)/.installed: requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	@touch $@

## run: start PostgreSQL (embedded unless DATABASE_URL is set), migrate, seed, web + worker + beat
run: $(BIN)/.installed
	PORT=$(PORT) $(BIN)/python -m oms.devrun

## test: ruff and the whole pytest suite against PostgreSQL (DATABASE_URL, else the embedded one)
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	@if [ -z "$$DATABASE_URL" ]; then \
		$(BIN)/python -m oms.embedded run -- $(BIN)/pytest $(PYTEST_ARGS); \
	else \
		$(BIN)/pytest $(PYTEST_ARGS); \
	fi

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(BIN)/.installed
	$(BIN)/mypy .

## bench: every benchmark under bench/; each prints one JSON line last
bench: $(BIN)/.installed
	@if [ -z "$$DATABASE_URL" ]; then echo "make bench: set DATABASE_URL to a PostgreSQL server where the benchmarks may create and drop their own scratch databases (e.g. postgres://postgres@127.0.0.1:5432/postgres)"; exit 2; fi
	$(BIN)/python -m bench

## lock: re-resolve pyproject.toml into the hashed lock files
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean-venv:
	rm -rf $(VENV)
