# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

.PHONY: demo test lint install bench clean lock

# every .sql file: dbt models/macros/tests and the SQL beside the Python (jinja
# templater); the GX checks separately (their {batch} is Python format syntax)
SQL_PATHS := dbt_project/models dbt_project/macros dbt_project/tests \
	ingest/sql factors/sql flows/sql flows/phases/sql snapfolio/cli/sql risk/sql

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/snapfolio demo

# the suite on TEST_WORKERS pytest-xdist workers (the machine's 2 cores), each its own
# session (database, home, Prefect server); --dist loadfile keeps a file's tests, and so its
# module fixtures, on one worker. README "Tests" has the timings and single-file runs.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint --disable-progress-bar --processes 2 $(SQL_PATHS)
	$(BIN)/sqlfluff lint --disable-progress-bar --templater python expectations/sql
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	$(BIN)/python benchmarks/onboarding.py

# refresh constraints.txt: resolve the bounds of pyproject.toml in a scratch venv and pin
# every installed distribution (commit the result; `make demo`/`make test` install with it)
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable --exclude snapfolio | sort -f > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .snapfolio
