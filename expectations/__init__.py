"""Great Expectations gate run after every batch: checks, checkpoint and Data Docs.

Public API (plain functions; the CLI and the Prefect flow wire them in):
    run_checks(settings, *, as_of, portfolio_ids=None, since=None, current_run_id=None)
        -> CheckReport
    data_docs_index(settings) -> Path

Importing this package does not import great_expectations (slow); running checks does.
"""

from expectations.checks import CHECK_NAMES, load_severities
from expectations.context import data_docs_index
from expectations.gate import CheckGateError, CheckReport, run_checks

__all__ = [
    "CHECK_NAMES",
    "CheckGateError",
    "CheckReport",
    "data_docs_index",
    "load_severities",
    "run_checks",
]
