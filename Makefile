# headrace: `make run` starts everything, `make test` checks everything. `make help` lists targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-faults test-containers lint fmt bench clean fuzz

help: ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "headrace needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install headrace with its server and dev extras

run: $(STAMP) ## Start the API and dashboard on http://localhost:4200 (embedded PostgreSQL)
	$(BIN)/headrace server start

# Most tests wait on processes, leases and the network more than on the CPU: two pytest
# processes halve the suite. The fault suite runs afterwards, alone: its recovery bounds assume
# the machine is not also running the rest of the suite.
TEST_JOBS ?= 2

test: $(STAMP) ## Run the whole test suite (real PostgreSQL, real processes)
	$(BIN)/pytest -n $(TEST_JOBS) --dist loadfile --ignore=tests/faults --ignore=tests/containers
	$(BIN)/pytest tests/faults

test-faults: $(STAMP) ## Run the fault suite (kills, pauses, cut connections; docs/reliability.md)
	$(BIN)/pytest tests/faults

# Needs podman, runc and debootstrap set up as docs/containers.md says (root); builds the
# stand-in base images once, then the image, and runs docker-compose.yml for real.
test-containers: $(STAMP) ## Run docker-compose.yml for real with podman (docs/containers.md)
	$(BIN)/pytest -p no:xdist tests/containers

fuzz: $(STAMP) ## Fuzz the API from its OpenAPI document (long schemathesis run, new seed)
	HEADRACE_TEST_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} HEADRACE_TEST_FUZZ_SEED=random \
		$(BIN)/pytest -o timeout=1800 tests/api/test_fuzz_openapi.py

lint: $(STAMP) ## ruff format --check, ruff check, mypy, import-linter (layers)
	$(BIN)/ruff format --check sdk service worker tests bench
	$(BIN)/ruff check sdk service worker tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

fmt: $(STAMP) ## Format and fix what ruff can
	$(BIN)/ruff format sdk service worker tests bench
	$(BIN)/ruff check --fix sdk service worker tests bench

bench: $(STAMP) ## Run the benchmarks (each prints its figure; see docs/benchmarks.md)
	@for b in bench/[a-z]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
