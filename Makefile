# Every target builds what it needs on a fresh machine: .venv is (re)built when pyproject.toml changes.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
PYTEST_ARGS ?=
# More flags for `batch-pipelines dev`, e.g. make dev DEV_ARGS="--port 3001".
DEV_ARGS ?=

.PHONY: install test lint format demo dev bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check batch_pipelines batch_pipelines_tests benchmarks
	$(BIN)/ruff format --check batch_pipelines batch_pipelines_tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format batch_pipelines batch_pipelines_tests benchmarks
	$(BIN)/ruff check --fix batch_pipelines batch_pipelines_tests benchmarks

test: lint
	$(BIN)/pytest -n 2 --durations=15 $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/batch-pipelines demo --tenants 12 --date 2026-11-25

dev: $(STAMP)
	$(BIN)/batch-pipelines dev $(DEV_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .batch_pipelines .pytest_cache
