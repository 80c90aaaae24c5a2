# `make test` and `make demo` work on a fresh clone: they create .venv and install the project.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck unit demo bench clean inspector

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check commands policies bot tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy commands policies bot

# The MCP Inspector (npm, pinned in its package-lock.json): a client no one here wrote, which
# tests/frontends/mcp/test_inspector.py drives `aspreset mcp` with. Without npm the test says so and skips.
INSPECTOR_DIR := tests/frontends/mcp/inspector
INSPECTOR_STAMP := $(INSPECTOR_DIR)/node_modules/.installed

$(INSPECTOR_STAMP): $(INSPECTOR_DIR)/package.json $(INSPECTOR_DIR)/package-lock.json
	if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix $(INSPECTOR_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the MCP Inspector test will be skipped"; fi

inspector: $(INSPECTOR_STAMP)

test: lint typecheck inspector
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/aspreset demo

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# every benchmark in bench/ (about 5 minutes); `bench/run.py --help` for one at a time
bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .aspreset .mypy_cache .pytest_cache .ruff_cache
