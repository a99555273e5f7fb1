# Two entry points for a fresh machine (Debian, Python 3.11 with venv): `make demo` and `make test`.
# Both install into .venv/ in this checkout; only the package registry is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: demo test lint clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

## Install alsig and run the whole workflow on the bundled demo (results in results/demo/).
demo: install
	$(BIN)/snakemake --cores $(CORES)

## Install the test dependencies and run the test suite.
test: install
	$(BIN)/python -m pytest -ra --durations=15

lint: install
	$(BIN)/ruff check src scripts tests bench
	$(BIN)/ruff format --check src scripts tests bench
	$(BIN)/snakefmt --check workflow/Snakefile workflow/rules
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
