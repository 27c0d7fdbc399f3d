# Communs — entry points named in the README.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean node-deps

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## make run: install, then serve on the zero-config embedded default (http://127.0.0.1:8000)
run: install
	$(BIN)/suite serve

node-deps: tests/interop/node_modules/.installed

tests/interop/node_modules/.installed: tests/interop/package.json
	cd tests/interop && npm install --no-audit --no-fund --loglevel=error
	@touch $@

## make test: install everything the tests need, then run them all
test: install node-deps
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check suite tests bench docs_app drive_app chat_app mail_bridge
	$(BIN)/mypy suite

## make bench: the benchmarks (results tables in bench/RESULTS.md and bench/asgi_servers.py)
bench: install
	$(BIN)/python bench/asgi_servers.py
	$(BIN)/python bench/docs_api.py
	$(BIN)/python bench/docs_sync.py

clean:
	rm -rf $(VENV) tests/interop/node_modules
