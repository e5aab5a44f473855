# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: demo test lint install bench clean

# every .sql file: dbt models/macros/tests, the GX checks, the SQL beside the Python
SQL_PATHS := dbt_project/models dbt_project/macros dbt_project/tests expectations/sql \
	ingest/sql factors/sql flows/phases/sql snapfolio/cli/sql

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
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/onboarding.py

clean:
	rm -rf $(VENV) .snapfolio
