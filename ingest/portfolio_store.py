"""Write a validated portfolio to raw.portfolios / raw.positions in one transaction.

Validation happens entirely before this (ingest.portfolio_csv), so a bad file never
reaches the database; here the only failure left is a name clash, also checked before
any write.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ingest.portfolio_csv import PositionRow
from ingest.restatements import forget_portfolio

# every table holding a portfolio's computed history (replaced portfolio: rebuilt)
MART_TABLES_BY_PORTFOLIO = (
    "marts.fct_position_values",
    "marts.fct_portfolio_snapshots",
    "marts_store.fct_position_exposure_vectors",  # the long-form view marts.fct_position_factor_exposures reads it
    "marts.fct_portfolio_factor_exposures",
    "marts.fct_portfolio_risk",
    "marts.fct_position_risk",
    "marts.fct_portfolio_sector_exposures",
    "marts.fct_portfolio_stress_results",
    "marts.fct_position_correlations",
    "raw.portfolio_risk_stats",
    "raw.position_risk_stats",
    "raw.position_correlations",
)


class PortfolioExistsError(ValueError):
    """Onboarding a name that already exists without --replace."""


@dataclass(frozen=True)
class OnboardedPortfolio:
    portfolio_id: int
    name: str
    initial_equity: Decimal
    equity_source: str
    positions: int
    replaced: bool


def derived_initial_equity(rows: list[PositionRow]) -> Decimal:
    """DESIGN: Σ |q × entry_price × multiplier| over every CSV row, exited ones included."""
    return sum((abs(r.quantity * r.entry_price * r.multiplier) for r in rows), Decimal(0))


def store_portfolio(
    conn: sa.Connection,
    name: str,
    rows: list[PositionRow],
    *,
    equity: Decimal | None = None,
    replace: bool = False,
    source_file: str | None = None,
) -> OnboardedPortfolio:
    """Insert (or replace) a portfolio and its positions; the caller owns the transaction.

    A replaced portfolio keeps its id; its old mart rows are deleted in the same
    transaction so nothing computed from the old positions survives.
    """
    existing = conn.execute(
        sa.text("select portfolio_id from raw.portfolios where name = :n for update"), {"n": name}
    ).scalar()
    if existing is not None and not replace:
        raise PortfolioExistsError(
            f"portfolio {name!r} already exists (id {existing}); use --replace to re-onboard it"
        )
    initial_equity = equity if equity is not None else derived_initial_equity(rows)
    equity_source = "given" if equity is not None else "derived"
    if existing is None:
        portfolio_id = conn.execute(
            sa.text(
                "insert into raw.portfolios (name, initial_equity, equity_source, source_file) "
                "values (:n, :e, :s, :f) returning portfolio_id"
            ),
            {"n": name, "e": initial_equity, "s": equity_source, "f": source_file},
        ).scalar_one()
    else:
        portfolio_id = int(existing)
        _delete_portfolio_history(conn, portfolio_id)
        conn.execute(
            sa.text(
                "update raw.portfolios set initial_equity = :e, equity_source = :s, "
                "source_file = :f, updated_at = now(), active = true where portfolio_id = :p"
            ),
            {"e": initial_equity, "s": equity_source, "f": source_file, "p": portfolio_id},
        )
    _insert_positions(conn, portfolio_id, rows)
    return OnboardedPortfolio(
        portfolio_id=portfolio_id,
        name=name,
        initial_equity=initial_equity,
        equity_source=equity_source,
        positions=len(rows),
        replaced=existing is not None,
    )


def _delete_portfolio_history(conn: sa.Connection, portfolio_id: int) -> None:
    for table in MART_TABLES_BY_PORTFOLIO:
        schema, name = table.split(".")
        exists = conn.execute(sa.text("select to_regclass(:t)"), {"t": table}).scalar()
        if exists:
            conn.execute(sa.text(f"delete from {schema}.{name} where portfolio_id = :p"), {"p": portfolio_id})
    conn.execute(sa.text("delete from raw.positions where portfolio_id = :p"), {"p": portfolio_id})
    forget_portfolio(conn, portfolio_id)


def _insert_positions(conn: sa.Connection, portfolio_id: int, rows: list[PositionRow]) -> None:
    """One multi-row insert (executemany batches into a single round trip in psycopg 3)."""
    params = [
        {
            "p": portfolio_id,
            "line": r.line,
            "symbol": r.symbol,
            "underlying": r.underlying_symbol,
            "q": r.quantity,
            "ep": r.entry_price,
            "ed": r.entry_date,
            "xd": r.exit_date,
            "xp": r.exit_price,
            "cls": r.investment_class,
            "sub": r.investment_subtype,
            "ot": r.option_type,
            "k": r.strike,
            "exp": r.expiration,
            "m": r.multiplier,
        }
        for r in rows
    ]
    conn.execute(
        sa.text(
            "insert into raw.positions (portfolio_id, source_line, symbol, underlying_symbol, "
            "quantity, entry_price, entry_date, exit_date, exit_price, investment_class, "
            "investment_subtype, option_type, strike, expiration, multiplier) values "
            "(:p, :line, :symbol, :underlying, :q, :ep, :ed, :xd, :xp, :cls, :sub, :ot, :k, :exp, :m)"
        ),
        params,
    )


def portfolio_ids_by_name(conn: sa.Connection, names: list[str]) -> dict[str, int]:
    found = dict(
        conn.execute(
            sa.text("select name, portfolio_id from raw.portfolios where name = any(:n)"),
            {"n": list(names)},
        ).all()
    )
    return {n: int(found[n]) for n in names if n in found}
