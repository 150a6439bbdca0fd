# Paperround: the habits in one place. Every target installs what it needs first.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp

.PHONY: install system-deps run test test-fast lint format bench bench-scale clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## install: create .venv and install Paperround with its dev extras
install: $(STAMP)

## system-deps: Debian packages the tests and benchmarks drive (chromium, smtp-sink, spamassassin)
system-deps:
	@sh config/system-deps.sh

## run: the whole service (web, worker, beat, capture SMTP) on embedded defaults; Ctrl-C stops it
run: install
	$(BIN)/paperround run

## test: the whole suite (set CI=true to make PostgreSQL/Redis tests fail instead of skip)
test: install system-deps
	$(BIN)/pytest

## test-fast: the inner loop: everything but the slow process, crash and install tests
test-fast: install
	$(BIN)/pytest -m "not slow"

## lint: ruff (rules and formatting) and mypy, all must be clean
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## format: apply ruff's formatting and safe fixes
format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the benchmarks; figures go to docs/benchmarks.md (the million-reader runs: bench-scale)
bench: install system-deps
	$(BIN)/python -m bench
	@echo "the million-reader runs (PostgreSQL, ~20 min) are separate: make bench-scale"

## bench-scale: planning at 100,000 and 1,000,000 readers and 30 editions in a row (PostgreSQL)
bench-scale: install
	$(BIN)/python -m bench scale

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
