# `make test` and `make demo` work on a fresh clone: they create .venv and install the project.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck unit demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check commands policies bot tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy commands policies bot

test: lint typecheck
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
