"""A past session's correlation matrix, computed on demand (DESIGN "Correlation matrix").

The risk phase keeps the full matrix only for each portfolio's latest session
(raw.position_correlations); `snapfolio export correlations --as-of D` asks for the
matrix of an earlier stored session. This reads the same inputs the risk phase reads
for one (portfolio, session) — the positions open on it (risk/sql/open_positions.sql's
rules) and the risk symbols' returns on the NYSE grid (``risk.inputs``) — and runs the
risk phase's own vectorized ``risk.correlations.correlations`` on them: one code path
for every matrix, stored or not.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from risk.correlations import PAIR_COLUMNS, correlations
from risk.inputs import SYMBOL_LOOKBACK, day_numbers, returns_on_grid
from snapfolio.core import calendar
from snapfolio.core.copy import copy_out_frame
from snapfolio.core.sql import load_sql, sql_text

MATRIX_COLUMNS = [c for c in PAIR_COLUMNS if c != "portfolio_id"]


def stored_session(conn: sa.Connection, portfolio_id: int, as_of: date) -> date | None:
    """The portfolio's last session with a stored risk row on or before ``as_of``."""
    return conn.execute(sql_text(__file__, "stored_session"),
                        {"portfolio_id": portfolio_id, "as_of": as_of}).scalar()


def correlation_matrix(conn: sa.Connection, portfolio_id: int, session: date) -> pd.DataFrame:
    """Every defined pair a < b (byte order) of the portfolio's universe U(session):
    ``MATRIX_COLUMNS`` (as_of_date as a date), sorted by symbol_a, symbol_b."""
    positions = copy_out_frame(conn, load_sql(__file__, "session_positions"),
                               {"portfolio_id": portfolio_id, "session": session})
    positions = positions.rename(columns={"day_number": "snapshot_date"})
    positions["available"] = positions["available"].astype(bool)
    symbols = sorted(positions.loc[positions["available"], "risk_symbol"].unique())
    lo = calendar.sessions_back_clipped(session, SYMBOL_LOOKBACK)
    returns = returns_on_grid(conn, symbols, lo, session).reindex(columns=symbols)
    day = int(day_numbers(np.array([session], dtype="datetime64[D]"))[0])
    targets = pd.DataFrame({"portfolio_id": [portfolio_id], "snapshot_date": [day]})
    _, pairs = correlations(positions, targets, returns, matrix_targets=targets)
    pairs = pairs[MATRIX_COLUMNS].reset_index(drop=True)
    pairs["as_of_date"] = [session] * len(pairs)
    return pairs
