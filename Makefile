# quantlab: `make run` (main job) and `make test` (tests); each sets itself up idempotently.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.quantlab-installed
NPM_STAMP := node_modules/.quantlab-installed
SHELL := /bin/bash
ARGS ?=

.PHONY: setup browser tfjs-node run test test-py test-js lint bench report clean

setup: $(PY_STAMP) $(NPM_STAMP)

# Extras for the parity runtimes: Debian's chromium, and tfjs-node built against the pip
# TensorFlow (no downloads). Both are idempotent.
browser:
	bash scripts/install-chromium.sh

tfjs-node: setup
	test -f .tfjs-node/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node || \
	  $(BIN)/quantlab setup --tfjs-node

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

$(NPM_STAMP): package.json package-lock.json $(PY_STAMP)
	source scripts/node-env.sh && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(BIN)/quantlab run $(ARGS)

test: setup browser tfjs-node lint test-py test-js

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
