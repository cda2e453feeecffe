# any-agent: every target installs what it needs; a fresh clone needs no prior step.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck check clean examples-check

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,mcp]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the SDK, the plugin and the dev tools

TEST_WORKERS ?= 2
test: $(STAMP) ## the whole test suite, offline (replays committed cassettes), TEST_WORKERS=2 processes
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS)

lint: $(STAMP)
	$(VENV)/bin/ruff check any_agent conformance tests bench examples
	$(VENV)/bin/ruff format --check any_agent conformance tests bench examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

examples-check: $(STAMP) ## run every example against the scripted test server
	$(PY) -m pytest -q -p no:cacheprovider tests/test_examples.py

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache .pytest_cache

# --- matrix ---
MATRIX_RESULTS ?= $(REPORT_DIR)/results
MATRIX_OUT     ?= $(REPORT_DIR)
.PHONY: matrix
matrix: $(STAMP) ## render reports/compatibility.{md,html,json} from reports/results/*.json
	$(VENV)/bin/any-agent-conformance matrix --results $(MATRIX_RESULTS) --out $(MATRIX_OUT)

# --- dist ---
.PHONY: dist
dist: $(STAMP) ## build the sdist and wheel into dist/ and check them with twine
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) -m twine check dist/*

# real LLM servers for recording (llama.cpp, LiteLLM, llama-cpp-python, vLLM, ...)
-include scripts/servers/servers.mk

# --- bench ---
# matplotlib draws reports/performance.png; it is a bench-only tool, not a package dependency.
BENCH_STAMP := $(VENV)/.bench-installed
BENCH_QUICK_OUT ?= build/bench-quick

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet 'matplotlib>=3.8'
	touch $(BENCH_STAMP)

.PHONY: bench bench-quick bench-typecheck bench-certify
bench: $(BENCH_STAMP) ## benchmark (~6-8 min, on a quiet machine): reports/performance.{md,png}
	$(PY) -m bench --out reports

bench-quick: $(BENCH_STAMP) ## smoke run of the benchmark (< 1 min) into $(BENCH_QUICK_OUT)/
	$(PY) -m bench --quick --out $(BENCH_QUICK_OUT)

# canitoolcall (the comparison, not a dependency) lives in its own venv; CANITOOLCALL names
# its executable. The live server must be running: make server PROVIDER=$(CERTIFY_BENCH_PROVIDER)
# CERTIFY_ARGS: more options for the suite's run (e.g. CERTIFY_ARGS='--run-order catalogue')
CERTIFY_BENCH_PROVIDER ?= llamacpp-tools
CANITOOLCALL_VENV ?= build/.venv-canitoolcall
CANITOOLCALL ?= $(CANITOOLCALL_VENV)/bin/canitoolcall
$(CANITOOLCALL_VENV)/bin/canitoolcall:
	$(PYTHON) -m venv $(CANITOOLCALL_VENV)
	$(CANITOOLCALL_VENV)/bin/python -m pip install --quiet 'canitoolcall==0.1.1'

bench-certify: $(STAMP) $(filter $(CANITOOLCALL_VENV)/%,$(CANITOOLCALL)) ## live certification vs canitoolcall probe, same server: reports/performance.md
	$(PY) -m bench.certify --provider $(CERTIFY_BENCH_PROVIDER) --canitoolcall $(CANITOOLCALL) \
	  --base-url $(or $(BASE_URL),$(shell $(PYTHON) conformance/catalogue/project_servers.py base-url $(CERTIFY_BENCH_PROVIDER))) \
	  $(if $(MODEL),--model $(MODEL)) $(if $(CERTIFY_ARGS),-- $(CERTIFY_ARGS))

bench-typecheck: $(BENCH_STAMP) ## mypy --strict over bench/
	$(VENV)/bin/mypy --strict bench

# --- conformance ---
# make certify                                   replay every recording in cassettes/, then make matrix
#   (exit 0 only for a completed certification; a bad manifest or a missing/unreadable cassette
#   is a harness error and fails it; the recorded servers' own MUST failures do not)
# make certify PROVIDER=llamacpp [BASE_URL=...] [MODEL=...] [API_KEY_ENV=VAR]   certify a live server
#   (without BASE_URL: the port `make server PROVIDER=llamacpp` listens on)
# make certify BASE_URL=http://host:port/v1 MODEL=id                            any server (generic profile)
# make record PROVIDER=llamacpp-tools MODEL=qwen2.5-coder-1.5b [BASE_URL=...]    (re-)record cassettes/
#   [ACCEPT_BASELINE=1]  accept outcomes that differ from the committed manifest (shown as a diff)
#   (record runs the live-only timing checks in the same session and keeps them in manifest.json)
# make certify / make record PROVIDER=x go where `make server PROVIDER=x` listens (the one port table,
# conformance/catalogue/project_servers.py, which scripts/servers/lib.sh reads too) unless BASE_URL is given;
# a provider the project does not run goes to its profile's default URL.
PROJECT_URL = $(if $(PROVIDER),$(shell $(PYTHON) conformance/catalogue/project_servers.py base-url $(PROVIDER) 2>/dev/null))
TARGET_URL  = $(or $(BASE_URL),$(PROJECT_URL))
CONFORMANCE_ARGS = $(if $(PROVIDER),--provider $(PROVIDER)) $(if $(TARGET_URL),--base-url $(TARGET_URL)) \
  $(if $(MODEL),--model $(MODEL)) $(if $(API_KEY_ENV),--api-key-env $(API_KEY_ENV)) \
  $(if $(CHECKS),--checks '$(CHECKS)') $(if $(SERVER_FACTS),--server-facts $(SERVER_FACTS)) \
  --cassette-dir $(CASSETTE_DIR) --report-dir $(REPORT_DIR)
CASSETTE_DIR ?= cassettes
REPORT_DIR   ?= reports
.PHONY: certify record conformance-docs
certify: $(STAMP) ## certify: replay all recordings + matrix; or PROVIDER=x / BASE_URL=.. MODEL=.. live
	@rc=0; if [ -n "$(PROVIDER)$(BASE_URL)" ]; then \
	  $(PY) -m pytest -p no:cacheprovider -q $(CONFORMANCE_ARGS) || rc=$$?; \
	elif ls $(CASSETTE_DIR)/*/*/manifest.json >/dev/null 2>&1; then \
	  $(VENV)/bin/any-agent-conformance certify --cassette-dir $(CASSETTE_DIR) \
	    --report-dir $(REPORT_DIR) $(if $(CHECKS),--checks '$(CHECKS)') || rc=$$?; \
	else echo "certify: no recordings under $(CASSETTE_DIR)/ (make record PROVIDER=... MODEL=...)"; rc=1; fi; \
	$(MAKE) --no-print-directory matrix || rc=$$?; exit $$rc

record: $(STAMP) ## record cassettes: PROVIDER=x MODEL=id [BASE_URL=...] (prints progress and ETA)
	@test -n "$(PROVIDER)" || { echo "record: set PROVIDER=... (and MODEL=...)"; exit 2; }
	$(PY) -m pytest -p no:cacheprovider -q -rN --conformance-mode record $(CONFORMANCE_ARGS) \
	  $(if $(ACCEPT_BASELINE),--accept-baseline)

conformance-docs: $(STAMP) ## regenerate the check table in docs/conformance.md
	$(PY) -m conformance.docs
