# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency, pinned with hashes (uv pip compile): runs and tests install the same tree.
LOCK := requirements/dev.lock

.PHONY: run test check lint typecheck layers unit real-clients bench bench-ingest bench-filter \
	bench-tui bench-notify bench-policy bench-hook bench-pg bench-pg-drivers bench-fleet lock \
	gitleaks-rules clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "swarmdeck needs Python 3.11 or newer, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The example adapter is installed too: the suite loads it through its entry point.
EXAMPLE := examples/swarmdeck-lines

$(STAMP): pyproject.toml $(LOCK) $(EXAMPLE)/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e . -e $(EXAMPLE)
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

## Only the real-client suite: install the pinned CLIs from npm, then drive them.
real-clients: $(STAMP)
	bash tests/real_clients/install.sh
	$(BIN)/python -m pytest tests/real_clients $(PYTEST_ARGS)

bench: bench-ingest bench-filter bench-policy bench-tui bench-notify bench-hook

bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest.py

bench-filter: $(STAMP)
	$(BIN)/python benchmarks/ingest_filter.py

bench-policy: $(STAMP)
	$(BIN)/python -m benchmarks.policy_feed

bench-tui: $(STAMP)
	$(BIN)/python benchmarks/tui_latency.py $(ARGS)

bench-notify: $(STAMP)
	$(BIN)/python benchmarks/notify_latency.py

## What a hook call costs an agent: start-up above the interpreter's, decision -> answer.
bench-hook: $(STAMP)
	$(BIN)/python benchmarks/hook_latency.py $(RUNS)

## PostgreSQL: ingest from one collector against a raw COPY floor (a throwaway server).
bench-pg: $(STAMP)
	$(BIN)/python benchmarks/ingest_pg.py $(ARGS)

## PostgreSQL drivers and insert paths, measured (how psycopg 3 + staged COPY was chosen).
bench-pg-drivers: $(STAMP)
	$(BIN)/python benchmarks/pg_drivers.py $(ARGS)

## Collectors on several hosts (network namespaces, as root): decision -> hook answer across
## hosts, takeover after SIGKILL, ingest from two collectors against a raw COPY floor.
bench-fleet: $(STAMP)
	$(BIN)/python benchmarks/fleet.py $(ARGS)

## Re-resolve every dependency from pyproject.toml into the hashed lock.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet -o $(LOCK)

## Refresh the vendored gitleaks rules from a gitleaks checkout (nothing is fetched):
## make gitleaks-rules GITLEAKS=/path/to/gitleaks
RULES := swarmdeck/guardrails/rules
gitleaks-rules: $(STAMP)
	@test -f "$(GITLEAKS)/config/gitleaks.toml" || { echo "set GITLEAKS=/path/to/a/gitleaks/checkout"; exit 2; }
	cp "$(GITLEAKS)/config/gitleaks.toml" $(RULES)/gitleaks.toml
	cp "$(GITLEAKS)/LICENSE" $(RULES)/LICENSE.gitleaks
	commit=$$(git -C "$(GITLEAKS)" log -1 --format='%H (%cs)') && \
		sed -i "s|^- upstream commit: .*|- upstream commit: $$commit|" $(RULES)/SOURCE.md
	$(BIN)/python -m pytest -q tests/governance/test_rulesets.py tests/governance/test_split_keys.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
