"""`snapfolio export` as a user runs it (a real subprocess): the risk exports' contract
headers and rows against direct reads of the marts, the correlation matrix of a past
session against an independent pandas computation from raw.prices, and the export
hardening of issue #16 (validate first, atomic replace, exit 2 naming the path)."""

from __future__ import annotations

import csv
import io
import math
import os
import subprocess
import sys
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from tests.conftest import REPO

AS_OF = date(2024, 6, 28)
BOOK = """\
Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share
AAPL,100,180.25,2023-06-01,PUBLIC,STOCK,,,,,,
MSFT,-50,330.00,2023-06-01,PUBLIC,STOCK,,,,,,
XOM,80,105.00,2023-06-01,PUBLIC,STOCK,,,,,2024-03-28,118.00
JNJ,60,160.00,2023-09-05,PUBLIC,STOCK,,,,,,
NVDA,30,850.00,2024-05-01,PUBLIC,STOCK,,,,,,
GGIPX,1000,22.40,2023-06-01,PUBLIC,MUTUAL_FUND,,,,,,
,5,6.50,2023-06-01,OPTIONS,,IWM,190.00,2025-06-20,CALL,,
"""
OTHER = """\
Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share
AAPL,10,180.00,2024-01-02,PUBLIC,STOCK,,,,,,
KO,40,60.00,2024-01-02,PUBLIC,STOCK,,,,,,
"""
RISK_EXPORTS = {  # kind -> (mart, key after the date)
    "risk": ("fct_portfolio_risk", None),
    "position-risk": ("fct_position_risk", "position_id"),
    "sectors": ("fct_portfolio_sector_exposures", "sector"),
    "stress": ("fct_portfolio_stress_results", "scenario_id"),
}
MATRIX_HEADER = ["as_of_date", "symbol_a", "symbol_b", "correlation", "n_obs"]


def snapfolio(*args: str, code: int | None = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "snapfolio", *args], check=False, env=env,
                          capture_output=True, text=True, timeout=300)
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    return proc


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def contract_columns(model: str) -> list[str]:
    spec = yaml.safe_load((REPO / "dbt_project/models/marts/risk/_risk__models.yml").read_text())
    [found] = [m for m in spec["models"] if m["name"] == model]
    return [c["name"] for c in found["columns"]]


@pytest.fixture(scope="module")
def book(test_database, tmp_path_factory):
    """Two portfolios over a year (shorts, an exit, an option, an unavailable fund, a
    young position), built once through the flow's own code."""
    import batch_helpers

    from ingest.providers.synthetic import SyntheticProvider
    from snapfolio.core.settings import load_settings

    db = test_database
    db.reset()
    folder = tmp_path_factory.mktemp("portfolios")
    for name, text in (("book", BOOK), ("other", OTHER)):
        (folder / f"{name}.csv").write_text(text)
        batch_helpers.store_file(db.engine, folder / f"{name}.csv", name)
    summary = batch_helpers.run_batch(db.engine, load_settings(), db.url, as_of=AS_OF,
                                      provider=SyntheticProvider(unavailable={"GGIPX"}))
    assert summary.status.startswith("completed"), summary.error
    ids = {r["name"]: r["portfolio_id"] for r in db.rows(
        "select name, portfolio_id from raw.portfolios")}
    return db, ids


def cell_matches(text: str, value) -> bool:
    """One CSV field against the database value (DESIGN "Exports" format rules)."""
    if value is None:
        return text == ""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if isinstance(value, float):
        return text != "" and (float(text) == value or (math.isnan(value) and text == ""))
    if isinstance(value, int):
        return text == str(value)
    if isinstance(value, date):
        return text == value.isoformat()
    return text == str(value)


@pytest.mark.parametrize("kind", sorted(RISK_EXPORTS))
def test_risk_export_equals_the_mart(book, kind, tmp_path):
    db, ids = book
    mart, key = RISK_EXPORTS[kind]
    out = tmp_path / f"{kind}.csv"
    proc = snapfolio("export", kind, "--portfolio", "book", "--out", str(out))
    rows = read_csv(out.read_text())
    assert rows[0] == contract_columns(mart)
    stored = db.rows(f"select * from marts.{mart} where portfolio_id = :p", p=ids["book"])

    def order(r):  # date, then the key (text in byte order)
        k = r[key] if key else 0
        return r["snapshot_date"], k.encode() if isinstance(k, str) else k

    stored.sort(key=order)
    assert len(rows) - 1 == len(stored) > 200
    assert f"wrote {len(stored)} rows" in proc.stderr
    nulls = 0
    for line, row in zip(rows[1:], stored, strict=True):
        assert len(line) == len(rows[0])
        for column, text in zip(rows[0], line, strict=True):
            assert cell_matches(text, row[column]), (column, text, row[column])
            nulls += row[column] is None
    if kind == "risk":
        assert nulls > 0  # early sessions: undefined windows
    assert {r[0] for r in rows[1:]} == {str(ids["book"])}
    # stdout gives the same bytes
    assert snapfolio("export", kind, "--portfolio", "book").stdout == out.read_text()


def test_stored_correlations_equal_the_mart_and_the_latest_session(book):
    db, ids = book
    rows = read_csv(snapfolio("export", "correlations", "--portfolio", "book").stdout)
    assert rows[0] == MATRIX_HEADER
    stored = db.rows("select as_of_date, symbol_a, symbol_b, correlation, n_obs "
                     "from marts.fct_position_correlations where portfolio_id = :p",
                     p=ids["book"])
    stored.sort(key=lambda r: (r["symbol_a"].encode(), r["symbol_b"].encode()))
    assert len(stored) >= 6
    assert [[r["as_of_date"].isoformat(), r["symbol_a"], r["symbol_b"],
             repr(r["correlation"]), str(r["n_obs"])] for r in stored] == rows[1:]
    assert {r[0] for r in rows[1:]} == {AS_OF.isoformat()}

    on_demand = read_csv(snapfolio("export", "correlations", "--portfolio", "book",
                                   "--as-of", AS_OF.isoformat()).stdout)
    assert on_demand[0] == MATRIX_HEADER
    assert [r[:3] + [r[4]] for r in on_demand[1:]] == [r[:3] + [r[4]] for r in rows[1:]]
    for got, want in zip(on_demand[1:], rows[1:], strict=True):
        assert abs(float(got[3]) - float(want[3])) <= 1e-12


def reference_matrix(db, portfolio_id: int, d: date) -> list[list]:
    """DESIGN's ρ_ab for one (portfolio, session), written plainly: universe from
    raw.positions and the position values, returns from raw.prices on the NYSE grid,
    pandas DataFrame.corr(min_periods=30) over the 90 sessions ending on d."""
    universe = sorted({r["risk_symbol"] for r in db.rows(
        """select coalesce(p.underlying_symbol, p.symbol) as risk_symbol
           from raw.positions p
           join marts.fct_position_values v
             on v.position_id = p.position_id and v.snapshot_date = :d
           where p.portfolio_id = :p and p.entry_date <= :d
             and (p.exit_date > :d or p.exit_date is null
                  and (p.expiration is null or p.expiration >= :d))
             and v.market_value <> 0
             and coalesce(p.underlying_symbol, p.symbol) not in
                 (select symbol from raw.symbol_status where status = 'unavailable')""",
        d=d, p=portfolio_id)}, key=str.encode)
    sessions = [r["session_date"] for r in db.rows(
        "select session_date from raw.trading_sessions where session_date <= :d "
        "order by session_date desc limit 91", d=d)][::-1]
    prices = pd.DataFrame(index=sessions, columns=universe, dtype=float)
    for r in db.rows("select symbol, price_date, coalesce(adj_close, close) as px "
                     "from raw.prices where symbol = any(:s) and price_date between :lo and :hi",
                     s=universe, lo=sessions[0], hi=sessions[-1]):
        prices.loc[r["price_date"], r["symbol"]] = r["px"]
    returns = (prices / prices.shift(1) - 1.0).iloc[1:]  # no fill: both closes must exist
    corr = returns.corr(min_periods=30)
    both = returns.notna().astype(int)
    out = []
    for i, a in enumerate(universe):
        for b in universe[i + 1:]:
            if pd.notna(corr.loc[a, b]):
                out.append([d.isoformat(), a, b, float(corr.loc[a, b]),
                            int((both[a] * both[b]).sum())])
    return out


@pytest.mark.parametrize("as_of, session", [
    ("2024-03-16", date(2024, 3, 15)),  # a Saturday: the last session before it; XOM open
    ("2024-05-20", date(2024, 5, 20)),  # NVDA held (its returns from before its entry)
])
def test_past_correlations_equal_independent_pandas(book, as_of, session):
    db, ids = book
    got = read_csv(snapfolio("export", "correlations", "--portfolio", "book",
                             "--as-of", as_of).stdout)
    want = reference_matrix(db, ids["book"], session)
    assert got[0] == MATRIX_HEADER
    assert len(want) >= 6
    assert [r[:3] + [int(r[4])] for r in got[1:]] == [w[:3] + [w[4]] for w in want]
    for g, w in zip(got[1:], want, strict=True):
        assert abs(float(g[3]) - w[3]) <= 1e-10, (g, w)
    symbols = {s for r in got[1:] for s in r[1:3]}
    assert "GGIPX" not in symbols and "IWM" in symbols  # unavailable out, option's underlying in
    assert ("XOM" in symbols) == (session < date(2024, 3, 28))
    assert ("NVDA" in symbols) == (session >= date(2024, 5, 1))


def test_bad_kind_leaves_an_existing_file_byte_identical(book, tmp_path):
    existing = tmp_path / "existing.csv"
    existing.write_bytes(b"keep,me\n1,2\n")
    before = existing.stat()
    proc = snapfolio("export", "snapshotz", "--portfolio", "book", "--out", str(existing),
                     code=2)
    assert proc.stderr.count("\n") == 1 and "snapshotz" in proc.stderr
    assert existing.read_bytes() == b"keep,me\n1,2\n"
    assert existing.stat().st_mtime_ns == before.st_mtime_ns
    proc = snapfolio("export", "snapshots", "--portfolio", "nope", "--out", str(existing),
                     code=2)
    assert "unknown portfolio" in proc.stderr and proc.stderr.count("\n") == 1
    assert existing.read_bytes() == b"keep,me\n1,2\n"
    assert list(tmp_path.iterdir()) == [existing]  # no temporary file left behind


def test_successful_export_replaces_the_file_whole(book, tmp_path):
    target = tmp_path / "risk.csv"
    target.write_text("old contents that are longer than nothing\n" * 1000)
    target.chmod(0o640)
    snapfolio("export", "risk", "--portfolio", "other", "--out", str(target))
    rows = read_csv(target.read_text())
    assert rows[0] == contract_columns("fct_portfolio_risk") and len(rows) > 100
    assert "old contents" not in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o640
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("out", ["/proc/x/y.csv", "/sys/y.csv", "{tmp}/missing/dir/y.csv",
                                 "{tmp}"])
def test_unwritable_out_is_exit_2_naming_it(book, tmp_path, out):
    path = out.format(tmp=tmp_path)
    proc = snapfolio("export", "snapshots", "--portfolio", "book", "--out", path, code=2)
    assert proc.stderr.startswith("error:") and proc.stderr.count("\n") == 1, proc.stderr
    assert path in proc.stderr and "Traceback" not in proc.stderr
    assert "Error:" not in proc.stderr  # no raw FileNotFoundError/PermissionError
    if out == "/sys/y.csv":
        assert "permission denied" in proc.stderr
    if "missing" in out:
        assert f"directory {tmp_path}/missing/dir does not exist" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_read_only_directory_is_exit_2(book, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only directories")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        proc = snapfolio("export", "snapshots", "--portfolio", "book", "--out",
                         str(folder / "y.csv"), code=2)
        assert "permission denied" in proc.stderr and str(folder / "y.csv") in proc.stderr
    finally:
        folder.chmod(0o700)


def test_as_of_rules(book, tmp_path):
    existing = tmp_path / "c.csv"
    existing.write_text("x\n")
    early = snapfolio("export", "correlations", "--portfolio", "book", "--as-of", "2023-05-31",
                      "--out", str(existing), code=2)
    assert early.stderr.count("\n") == 1 and "no stored session on or before 2023-05-31" \
        in early.stderr and "'book'" in early.stderr
    other = snapfolio("export", "risk", "--portfolio", "book", "--as-of", "2024-03-15", code=2)
    assert "--as-of" in other.stderr and other.stderr.count("\n") == 1 and other.stdout == ""
    future = snapfolio("export", "correlations", "--portfolio", "book", "--as-of", "2099-01-02",
                       code=2)
    assert "--as-of" in future.stderr and future.stderr.count("\n") == 1
    assert existing.read_text() == "x\n"


def test_exports_before_the_marts_exist(test_database, book):
    """Last in the module (it drops the marts): a clear exit 2, nothing written."""
    db, _ = book
    with db.engine.begin() as conn:
        conn.execute(sa.text("drop table marts.fct_position_correlations"))
    proc = snapfolio("export", "correlations", "--portfolio", "book", code=2)
    assert "marts.fct_position_correlations does not exist yet" in proc.stderr
