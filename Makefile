# Two commands do everything on a fresh machine with Python 3.10+:
#   make demo   records a pipeline at two sites, syncs them through a local server, prints the lineage
#   make test   lints, type-checks and runs the whole test suite (the package is compiled first:
#               the tests start many processes, and PYTHONDONTWRITEBYTECODE may be set)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The extras installed into the virtual environment; CI adds mlmd (ML Metadata, for the tests that
# compare with it or read its databases; it ships for Python 3.9-3.11 only).
EXTRAS ?= dev,postgres,mysql

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

test: lint
	$(BIN)/python -m compileall -q src
	$(BIN)/python -m pytest -n auto

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py

clean:
	rm -rf $(VENV) demo-output
