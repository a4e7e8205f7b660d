# quantlab: `make run` (main job) and `make test` (tests); each sets itself up idempotently.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.quantlab-installed
NPM_STAMP := node_modules/.quantlab-installed
SHELL := /bin/bash
ARGS ?=

.PHONY: setup browser tfjs-node ray explorer run test test-py test-js test-fast test-e2e test-signals test-browser lint bench report clean mutation

setup: $(PY_STAMP) $(NPM_STAMP)

# Extras for the parity runtimes: Debian's chromium, and tfjs-node built against the pip
# TensorFlow (no downloads). Both are idempotent.
browser:
	bash scripts/install-chromium.sh

tfjs-node: setup
	test -f .tfjs-node/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node || \
	  $(BIN)/quantlab setup --tfjs-node

# Ray for `--executor ray` and its tests (the `ray` extra; a second pip step, see pyproject.toml).
ray: $(PY_STAMP)
	$(BIN)/python -c 'import ray' 2>/dev/null || $(BIN)/pip install --disable-pip-version-check -q -e '.[ray]'

# Model Explorer for `quantlab diagnose`'s overlays and its test: the package without its 481 MB
# C++ adapter (tfjs graphs go through its JSON adapter), plus the light dependencies it imports.
explorer: $(PY_STAMP)
	$(BIN)/python -c 'import model_explorer' 2>/dev/null || { \
	  $(BIN)/pip install --disable-pip-version-check -q --no-deps 'ai-edge-model-explorer==0.1.34' && \
	  $(BIN)/pip install --disable-pip-version-check -q flask dacite portpicker termcolor watchdog; }

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

$(NPM_STAMP): package.json package-lock.json $(PY_STAMP)
	source scripts/node-env.sh && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(BIN)/quantlab run $(ARGS)

test: setup browser tfjs-node ray explorer lint test-py test-js

lint: $(PY_STAMP)
	$(BIN)/ruff check py tests
	$(BIN)/ruff format --check py tests

# Two pytest workers (pytest-xdist; a test file stays on one worker, so its module fixtures are
# made once): the e2e tests mostly wait on Node, converter and Chromium children, one core each.
TEST_WORKERS ?= 2
test-py: setup
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(ARGS)

# Tiers (markers applied by folder in tests/conftest.py): fast = tests/unit, seconds, what a
# developer runs while working; e2e = everything through the real CLI, converter and evaluator.
# `-m browser` and `-m signals` select the Chromium and the interrupt/crash tests.
test-fast: $(PY_STAMP)
	$(BIN)/pytest tests/unit -q $(ARGS)

test-e2e: setup browser tfjs-node ray explorer
	$(BIN)/pytest -m e2e -n $(TEST_WORKERS) --dist loadfile --durations=25 $(ARGS)

# The interrupt, crash and hang tests alone (`-m signals`, about 3 minutes), and the Chromium ones.
# scripts/signals_under_load.sh runs the first five times beside two busy loops.
test-signals: setup browser tfjs-node
	$(BIN)/pytest -m signals -n $(TEST_WORKERS) --dist loadfile $(ARGS)

test-browser: setup browser explorer
	$(BIN)/pytest -m browser -n $(TEST_WORKERS) --dist loadfile $(ARGS)

test-js: setup
	source scripts/node-env.sh && node --test tests/js/

# quantlab as a user installs it (tests/install, under 3 min): the wheel built, installed into a
# fresh virtualenv outside the clone and run from there, its npm packages installed into a temp
# cache on first need. `make test` runs it too (test-py's pytest collects tests/install).
test-install: setup
	$(BIN)/pytest tests/install $(ARGS)

bench: setup
	$(BIN)/quantlab bench $(ARGS)

report: $(PY_STAMP)
	$(BIN)/quantlab report

# Mutation testing (not in CI, not part of `make test`): mutmut mutates metrics.py, tasks.py,
# analysis/search.py and convert/quantize_math.py and runs the fast tests/unit tier against each
# mutant. mutmut 3 only finds code under ./, src/ or source/, so it runs in a staging copy
# (MUTATION_DIR) with py/ as src/; the
# config is [tool.mutmut] in pyproject.toml. mutmut comes from the `mutation` extra; MUTMUT=path
# uses another install instead (e.g. a scratch venv). Prints killed/total; survivors are listed
# in $(MUTATION_DIR)/survivors.txt (`cd $(MUTATION_DIR) && mutmut show NAME` shows one).
MUTATION_DIR ?= /tmp/quantlab-mutation
MUTMUT ?= $(CURDIR)/$(BIN)/mutmut
MUTATION_STAMP := $(VENV)/.quantlab-mutation-installed

$(MUTATION_STAMP): pyproject.toml $(PY_STAMP)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[dev,mutation]'
	touch $@

mutation: $(if $(filter $(CURDIR)/$(BIN)/mutmut,$(MUTMUT)),$(MUTATION_STAMP))
	rm -rf $(MUTATION_DIR) && mkdir -p $(MUTATION_DIR)/src $(MUTATION_DIR)/tests
	cp -r py/quantlab $(MUTATION_DIR)/src/
	cp -r tests/__init__.py tests/conftest.py tests/unit $(MUTATION_DIR)/tests/
	cp pyproject.toml $(MUTATION_DIR)/
	find $(MUTATION_DIR) -name __pycache__ -prune -exec rm -rf {} +
	cd $(MUTATION_DIR) && $(MUTMUT) run --max-children $$(nproc) > run.log 2>&1 || (tail -40 run.log; exit 1)
	cd $(MUTATION_DIR) && $(MUTMUT) results > survivors.txt 2>&1; \
	  $(MUTMUT) export-cicd-stats >/dev/null 2>&1; \
	  python3 -c 'import json; s = json.load(open("mutants/mutmut-cicd-stats.json")); \
	    k, t = s["killed"] + s.get("timeout", 0), s["total"] - s.get("skipped", 0); \
	    print(f"mutation: {k}/{t} killed ({100 * k / t:.1f}%); {s}")'

clean:
	rm -rf $(VENV) node_modules models
