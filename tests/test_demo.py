"""`snapfolio demo` as a fresh clone runs it (`make demo` is this command): every example
portfolio onboarded in one batch flow run through the session's Prefect server, the
demo's own synthetic provider (anchored at the entry prices, GGIPX and NEAIX
unavailable), real dbt and GX, through the last completed NYSE session.

Believable numbers: the largest absolute cumulative return among the examples is under
100 %, computed here from the snapshot mart's equity and the CSVs' positions by
DESIGN "Accounting" (initial equity = Σ |q × entry × multiplier| when none is given),
not from the demo's own figure, which must agree with it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.csv"))


@pytest.fixture(scope="module")
def demo(test_database, prefect_api) -> subprocess.CompletedProcess:
    test_database.reset()
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("SNAPFOLIO_PRICE_PROVIDER", None)  # the demo's own default provider
    proc = subprocess.run([sys.executable, "-m", "snapfolio", "demo"], env=env,
                          capture_output=True, text=True, timeout=3600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _cumulative_returns(db) -> dict[str, float]:
    """Per portfolio: equity on its latest snapshot / initial equity − 1, the initial
    equity summed from its positions (every CSV row, exited ones included)."""
    initial: dict[str, Decimal] = {}
    for r in db.rows("select p.name, x.quantity, x.entry_price, x.multiplier from "
                     "raw.portfolios p join raw.positions x using (portfolio_id)"):
        initial[r["name"]] = initial.get(r["name"], Decimal(0)) + abs(
            Decimal(r["quantity"]) * Decimal(r["entry_price"]) * Decimal(r["multiplier"]))
    out = {}
    for r in db.rows("select distinct on (p.name) p.name, s.equity, s.cumulative_pnl, "
                     "s.snapshot_date from raw.portfolios p join marts.fct_portfolio_snapshots s "
                     "using (portfolio_id) order by p.name, s.snapshot_date desc"):
        equity = Decimal(r["equity"])
        out[r["name"]] = float(equity / initial[r["name"]] - 1)
        # the same number from the P&L side: equity = initial + cumulative P&L
        assert abs(float(Decimal(r["cumulative_pnl"]) / initial[r["name"]])
                   - out[r["name"]]) < 1e-9, r
    return out


def test_every_example_is_onboarded_with_believable_returns(demo, test_database) -> None:
    returns = _cumulative_returns(test_database)
    assert sorted(returns) == EXAMPLE_NAMES
    name, largest = max(returns.items(), key=lambda kv: abs(kv[1]))
    assert abs(largest) < 1.0, returns
    shown = re.search(r"Largest absolute cumulative return: (\S+) ([+-][\d.]+)%", demo.stdout)
    assert shown, demo.stdout[-3000:]
    assert shown.group(1) == name
    assert abs(float(shown.group(2)) / 100 - largest) < 0.00006  # printed to 2 decimals


def test_demo_ends_with_table_reports_ui_and_how_to_stop(demo, prefect_api) -> None:
    out = demo.stdout
    table = out.index("Portfolios as of ")
    for name in EXAMPLE_NAMES:
        assert name in out[table:], name
    reports = out.index("Reports:")
    assert table < out.index("Largest absolute cumulative return") < reports
    paths = dict(re.findall(r"^  (\S+): (/\S+\.html)$", out[reports:], flags=re.MULTILINE))
    assert sorted(paths) == EXAMPLE_NAMES
    assert all(Path(p).stat().st_size > 100_000 for p in paths.values())
    tail = out[reports:].splitlines()[len(EXAMPLE_NAMES) + 1:]
    assert tail[0].startswith(f"Prefect UI: {prefect_api.removesuffix('/api')}  ·  Data Docs: ")
    assert "stop them with: .venv/bin/snapfolio stop" in " ".join(tail[1:])
    # our own environment handling prints no warnings (XDG_RUNTIME_DIR, deprecations)
    assert "Warning" not in demo.stderr and "Traceback" not in demo.stderr, demo.stderr[-2000:]
