# Two entry points for a fresh machine (Debian, Python 3.11 with venv): `make demo` and `make test`.
# Both install into .venv/ in this checkout; only the package registry is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
CONFIG ?= config/config.yaml

.PHONY: demo report test test-unit test-fast check-models lint typecheck clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# compileall: an editable install leaves alsig's modules uncompiled, and where
# PYTHONDONTWRITEBYTECODE is set (as on this project's machines) every job process then compiles
# them from source again (~60 ms per job; bench/results/real_cohorts.md)
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,report]"
	$(BIN)/python -m compileall -q src/alsig
	touch $@

install: $(VENV)/.installed

## Install alsig and run the whole workflow on the bundled demo (results in results/demo/).
demo: install
	$(BIN)/snakemake --cores $(CORES)
	@echo ""
	@echo "alsig demo done. Signature scores per sample:"
	@echo "  results/demo/scores/signature_scores.parquet   (long table, schema in workflow/schemas/)"
	@echo "  results/demo/scores/signature_scores_wide.tsv  (one row per sample)"
	@echo "  results/demo/scores/axis_tests.tsv             (ALS vs control per axis)"
	@echo "  results/demo/subtypes/subtypes.tsv             (projected subtype + label-free states per sample)"
	@echo "  results/catalog/signature_scores.parquet       (every dataset of the run)"
	@echo "  results/demo/report/tables.html                (tables to browse: samples, DE, enrichment, scores)"
	@echo "HTML report: make report  ->  results/report.html"

## The report of one run (CONFIG, default the demo's) in its own output folder: every figure and
## table with its caption. Refused while the run's outputs are not up to date (alsig report).
report: install
	$(BIN)/alsig report --config $(CONFIG)

## Install the test dependencies and run the whole test suite (two workers; the tests that read
## the shared demo run stay on one worker, which builds it once; the longest start first, in the
## order of tests/conftest.py's LONGEST_FIRST). BLAS on one thread per worker:
## two workers each running a two-thread BLAS on two cores spin and wait (bench/results/test_suite.md);
## the workflow's jobs get their own rule's threads from Snakemake either way.
TEST_ENV = OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
test: install
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadgroup --no-loadscope-reorder -ra --durations=15

## The unit tier: functions on data in memory, no Snakemake, no subprocess (under a minute).
test-unit: install
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 -ra tests/unit

## The quick loop while developing: the unit tier and the demo-run assertions.
test-fast: install
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 --dist loadgroup -ra tests/unit tests/e2e/test_demo_workflow.py

## The shipped subtype models refitted from GSE124439 (../shared/data) over the whole inner grid,
## compared bit for bit (~65 s on one core; the suite's test refits the four best grid points).
check-models: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python scripts/build_subtype_model.py --check --final-only

## Lint: ruff (with the numpydoc docstring rules, convention numpy), ruff format, snakefmt,
## snakemake --lint.
lint: install
	$(BIN)/ruff check src scripts workflow/scripts tests bench
	$(BIN)/ruff format --check src scripts workflow/scripts tests bench
	$(BIN)/snakefmt --check workflow/Snakefile workflow/rules
	$(BIN)/snakemake --lint

## Type check of the package, bench/ and scripts/ (configuration: [tool.mypy] in pyproject.toml).
typecheck: install
	$(BIN)/python -m mypy

clean:
	rm -rf results .snakemake
