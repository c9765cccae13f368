# Two commands do everything on a fresh machine:
#   make run   -> venv, install, demo data, open the app
#   make test  -> venv, install (with test tools and JACK), lint, type-check, tests
#   make test-fast -> the edit loop: lint, type-check, tests without JACK or a browser (no system packages)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= $(CURDIR)/.demo-data

.PHONY: run test test-fast lint bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	@scripts/system-deps.sh run
	COMPANION_DATA_DIR=$(DEMO_DIR) $(BIN)/companion demo-data --if-empty
	COMPANION_DATA_DIR=$(DEMO_DIR) $(BIN)/companion

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy

test: $(VENV)/.installed
	@scripts/system-deps.sh test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -ra $(PYTEST_ARGS)

test-fast: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -ra -m "not jack and not browser" $(PYTEST_ARGS)

bench: $(VENV)/.installed
	@scripts/system-deps.sh test
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b; done

lock: $(VENV)/.installed
	{ sed -n '1,2p' requirements.lock; $(BIN)/pip freeze --exclude-editable | grep -v '^companion'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
