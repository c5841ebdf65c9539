# Titan: `make run` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PKGS   := libs/titan_common services/brain services/execution services/console services/scavenger services/sim services/worker tools/backtest tools/ops
PKG_FILES := $(foreach p,$(PKGS),$(p)/pyproject.toml)
# mypy covers the shared library and every service's pure core
TYPED  := libs/titan_common/titan_common $(wildcard services/*/titan_*/core) tools/backtest/titan_backtest tools/ops/titan_ops

.PHONY: install install-dev run test lint typecheck pytest clean bench bench-floor bench-e2e bench-api bench-brain

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: $(BIN)/python requirements.txt $(PKG_FILES)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation $(foreach p,$(PKGS),-e $(p))
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r requirements.txt -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# PAPER trades both of the simulator's faces unless TITAN_VENUES says otherwise
run: install
	TITAN_VENUES=$${TITAN_VENUES:-bybit,mexc} $(BIN)/titan up

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install-dev
	$(BIN)/mypy $(TYPED)

# pytest's exit code 5 means it collected no tests: a failure, never a pass
# The unit tests (pure), the end-to-end stacks and the integration tests that bring servers
# of their own (deploy, the fuzzer, the access matrix: mostly waiting on their processes) run
# beside the rest of the integration suite, in a second pytest process with embedded servers
# of its own when it needs them: two cores, and both suites spend much of their time waiting.
BESIDE := tests/unit tests/e2e tests/integration/deploy tests/integration/test_fuzz_openapi.py \
  tests/integration/test_service_access.py
pytest: install-dev
	@mkdir -p var/pytest-beside
	TEST_EMBEDDED_DIR=$(CURDIR)/var/pytest-beside $(BIN)/pytest -p no:cacheprovider -q --durations=10 $(BESIDE) \
	  > var/pytest-beside.log 2>&1 & unit=$$!; \
	$(BIN)/pytest --durations=40 $(foreach t,$(BESIDE),--ignore=$(t)); rc=$$?; \
	wait $$unit; urc=$$?; echo "--- $(BESIDE) (run beside the rest) ---"; cat var/pytest-beside.log; \
	if [ $$rc -eq 5 ] || [ $$urc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; exit $$urc

test: lint typecheck pytest

# Benchmarks (docs/benchmarks.md): each prints JSON and appends its rows there, goals stated
# as ratios measured in the same run. They make a scratch database on BENCH_DATABASE_URL's
# server; the brain's also uses BENCH_REDIS_URL (database 7). Run them one at a time.
BENCH_DATABASE_URL ?= $(or $(TEST_DATABASE_URL),$(DATABASE_URL),postgresql://postgres@127.0.0.1:5432/test)
BENCH_REDIS_URL ?= $(or $(TEST_REDIS_URL),$(REDIS_URL),redis://127.0.0.1:6379/0)

bench-floor: install-dev
	$(BIN)/python bench/floor.py --database-url $(BENCH_DATABASE_URL) --redis-url $(BENCH_REDIS_URL)
bench-e2e: install-dev
	$(BIN)/python bench/e2e_latency.py --database-url $(BENCH_DATABASE_URL)
bench-api: install-dev
	$(BIN)/python bench/api_load.py --database-url $(BENCH_DATABASE_URL)
bench-brain: install-dev
	$(BIN)/python bench/brain_evaluate.py --database-url $(BENCH_DATABASE_URL) --redis-url $(BENCH_REDIS_URL)
bench: bench-floor bench-e2e bench-api bench-brain

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
