# Two commands for a new operator: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := tests/interop/node_modules/.installed-stamp
PEER_STAMP := bench/peer/node_modules/.installed-stamp

.PHONY: install demo test lint typecheck check bench clean

$(STAMP): pyproject.toml campus-pass/pyproject.toml scripts/install-system.sh
	bash scripts/install-system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./campus-pass
	touch $@

$(NODE_STAMP): tests/interop/package.json tests/interop/package-lock.json
	cd tests/interop && npm ci --no-audit --no-fund --silent
	touch $@

# The benchmark's peer, node-oidc-provider (bench/peer/); its test runs in `make test`.
$(PEER_STAMP): bench/peer/package.json bench/peer/package-lock.json
	cd bench/peer && npm ci --no-audit --no-fund --silent
	touch $@

install: $(STAMP)

# `make demo HTTPS=1`: the provider over https (a local CA in var/demo/tls); DEMO_PORT,
# DEMO_RP_PORT and DEMO_HOST set its port, the sample relying party's and the issuer's host.
demo: $(STAMP)
	$(BIN)/python -m demo $(if $(filter-out 0,$(HTTPS)),--https)

test: $(STAMP) $(NODE_STAMP) $(PEER_STAMP)
	bash scripts/run-tests.sh

# Not part of `make test`: prints figures for this machine (see README, "Benchmark").
bench: $(STAMP) $(PEER_STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.delivery
	$(BIN)/python -m bench.sync
	$(BIN)/python -m bench.access
	$(BIN)/python -m bench.instances
	$(BIN)/python -m bench.side_by_side
	$(BIN)/python -m bench.login_split
	$(BIN)/python -m bench.helpdesk_search

lint: $(STAMP)
	$(BIN)/ruff check idp connectors campus-pass demo bench tests
	$(BIN)/mypy

check: lint test

clean:
	rm -rf $(VENV) var tests/interop/node_modules bench/peer/node_modules
