# Titan: `make run` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PKGS   := libs/titan_common services/brain services/execution services/console services/scavenger services/simulator services/worker
PKG_FILES := $(foreach p,$(PKGS),$(p)/pyproject.toml)
# mypy covers the shared library and every service's pure core
TYPED  := libs/titan_common/titan_common $(wildcard services/*/titan_*/core)

.PHONY: install install-dev run test lint typecheck pytest clean

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

typecheck: install-dev
	$(BIN)/mypy $(TYPED)

# pytest's exit code 5 means it collected no tests: a failure, never a pass
pytest: install-dev
	$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
