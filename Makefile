# any-agent: every target installs what it needs; a fresh clone needs no prior step.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint typecheck check clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the SDK, the plugin and the dev tools

test: $(STAMP) ## the whole test suite, offline (replays committed cassettes)
	$(PY) -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check any_agent conformance tests bench examples
	$(VENV)/bin/ruff format --check any_agent conformance tests bench examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache .pytest_cache

# --- matrix ---
MATRIX_RESULTS ?= reports/results
MATRIX_OUT     ?= reports
.PHONY: matrix
matrix: $(STAMP) ## render reports/compatibility.{md,html,json} from reports/results/*.json
	$(VENV)/bin/any-agent-conformance matrix --results $(MATRIX_RESULTS) --out $(MATRIX_OUT)

# real LLM servers for recording (llama.cpp, LiteLLM, llama-cpp-python, vLLM, ...)
-include .ci/servers/servers.mk
