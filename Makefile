# The two commands a new user needs: `make demo` and `make test`. Both set up first.
VENV ?= .venv
PY := $(VENV)/bin/python
GOSLIM := $(VENV)/bin/goslim
EXAMPLE := examples/hello-api

.PHONY: setup demo test unit integration lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	$(GOSLIM) slim $(EXAMPLE) --upx auto

test: setup
	$(PY) -m pytest tests

unit: setup
	$(PY) -m pytest tests/unit

integration: setup
	$(PY) -m pytest tests/integration

lint: setup
	$(VENV)/bin/ruff check src tests bench
