# Switchboard: `make run` and `make test` work from a fresh clone with only Python 3.11.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench services-up services-down clean-venv

$(STAMP): requirements.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "switchboard: $(PY) not found: install Python 3.11 or run make PY=python3"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m config.run

test: $(STAMP)
	$(BIN)/python -m core.embedded up
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m core.embedded up
	$(BIN)/python -m bench.run $(BENCH_ARGS)

services-up: $(STAMP)
	$(BIN)/python -m core.embedded up

services-down: $(STAMP)
	$(BIN)/python -m core.embedded down
