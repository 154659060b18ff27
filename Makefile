# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck unit bench bench-ingest bench-tui clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "swarmdeck needs Python 3.11 or newer, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The example adapter is installed too: the suite loads it through its entry point.
EXAMPLE := examples/swarmdeck-lines

$(STAMP): pyproject.toml $(EXAMPLE)/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e $(EXAMPLE)
	@touch $(STAMP)

## Launch swarmdeck on its embedded default (simulated swarm, database in the data dir).
run: $(STAMP)
	$(BIN)/swarmdeck $(ARGS)

## Lint, type-check and run the whole test suite.
test: $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: test

bench: bench-ingest bench-tui

bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

bench-tui: $(STAMP)
	$(BIN)/python benchmarks/tui_latency.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
