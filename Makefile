# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: demo test lint install bench clean

# every .sql file: dbt models/macros/tests and the SQL beside the Python (jinja
# templater); the GX checks separately (their {batch} is Python format syntax)
SQL_PATHS := dbt_project/models dbt_project/macros dbt_project/tests \
	ingest/sql factors/sql flows/phases/sql snapfolio/cli/sql risk/sql

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/snapfolio demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint --disable-progress-bar --processes 2 $(SQL_PATHS)
	$(BIN)/sqlfluff lint --disable-progress-bar --templater python expectations/sql
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/onboarding.py

clean:
	rm -rf $(VENV) .snapfolio
