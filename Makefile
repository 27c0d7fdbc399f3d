# Communs — entry points named in the README.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean node-deps system-deps test-system-deps

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) system-deps

# Debian packages: libmagic (file types, needed to run); clamd, litmus and rclone (real peers
# the tests drive). Installed with apt-get when missing (as root, or through sudo).
APT_INSTALL = DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y --no-install-recommends
define apt_ensure
	@missing=""; for pair in $(1); do test -e "$${pair%%=*}" || missing="$$missing $${pair##*=}"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(APT_INSTALL) $$missing >/dev/null || { $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && $(APT_INSTALL) $$missing >/dev/null; }; fi
endef

system-deps:
	@/sbin/ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1 ' || { echo "installing: libmagic1"; \
	  $(APT_INSTALL) libmagic1 >/dev/null || { $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && $(APT_INSTALL) libmagic1 >/dev/null; }; }

test-system-deps:
	$(call apt_ensure,/usr/sbin/clamd=clamav-daemon /usr/bin/litmus=litmus /usr/bin/rclone=rclone)

## make run: install, then serve on the zero-config embedded default (http://127.0.0.1:8000)
run: install
	$(BIN)/suite serve

node-deps: tests/interop/node_modules/.installed

tests/interop/node_modules/.installed: tests/interop/package.json
	cd tests/interop && npm install --no-audit --no-fund --loglevel=error
	@touch $@

## make test: install everything the tests need, then run them all
test: install node-deps test-system-deps
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check suite tests bench docs_app drive_app chat_app mail_bridge
	$(BIN)/mypy suite docs_app drive_app chat_app mail_bridge

## make bench: the benchmarks (results tables in bench/RESULTS.md and bench/asgi_servers.py)
bench: install
	$(BIN)/python bench/asgi_servers.py
	$(BIN)/python bench/docs_api.py
	$(BIN)/python bench/docs_sync.py

clean:
	rm -rf $(VENV) tests/interop/node_modules
