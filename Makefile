# quantlab: `make run` (main job) and `make test` (tests); each sets itself up idempotently.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.quantlab-installed
NPM_STAMP := node_modules/.quantlab-installed
SHELL := /bin/bash
ARGS ?=

.PHONY: setup run test test-py test-js lint bench report clean

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

$(NPM_STAMP): package.json package-lock.json $(PY_STAMP)
	source scripts/node-env.sh && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(BIN)/quantlab run $(ARGS)

test: setup lint test-py test-js

lint: $(PY_STAMP)
	$(BIN)/ruff check py tests
	$(BIN)/ruff format --check py tests

test-py: setup
	$(BIN)/pytest $(ARGS)

test-js: setup
	source scripts/node-env.sh && node --test tests/js/

bench: setup
	$(BIN)/quantlab bench $(ARGS)

report: $(PY_STAMP)
	$(BIN)/quantlab report

clean:
	rm -rf $(VENV) node_modules models
