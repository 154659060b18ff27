# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency, pinned with hashes (uv pip compile): runs and tests install the same tree.
LOCK := requirements/dev.lock

.PHONY: run test check lint typecheck layers unit bench bench-ingest bench-tui bench-hook lock clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "swarmdeck needs Python 3.11 or newer, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@# A dependency added to pyproject.toml but not to the lock fails here: run `make lock`.
	$(BIN)/python -m pip check
	@touch $(STAMP)

## Launch swarmdeck on its embedded default (simulated swarm, database in the data dir).
run: $(STAMP)
	$(BIN)/swarmdeck $(ARGS)

## Lint, type-check and run the whole test suite.
test: $(STAMP) lint typecheck layers unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports --no-cache

unit: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: test

bench: bench-ingest bench-tui bench-hook

bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

bench-tui: $(STAMP)
	$(BIN)/python benchmarks/tui_latency.py

## What a hook call costs an agent: start-up above the interpreter's, decision -> answer.
bench-hook: $(STAMP)
	$(BIN)/python benchmarks/hook_latency.py $(RUNS)

## Re-resolve every dependency from pyproject.toml into the hashed lock.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet -o $(LOCK)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
