"""Vectorized numeric core of the risk analytics (DESIGN "Risk analytics").

Pure functions over numpy arrays / pandas frames, no database access: the risk phase
reads its inputs once per run, calls each function once over ALL portfolios and
sessions of the run, and COPYs the long result frames into raw tables.

Conventions shared by every module:
- a *returns frame* is wide: index = consecutive NYSE sessions (sorted, unique, none
  skipped), columns = portfolio ids or symbols, NaN = no return. Windows reaching
  before the first row count as missing, so callers prepend the lookback (252
  sessions covers every window here);
- *targets* are long frames with ``portfolio_id`` and ``snapshot_date`` (a label of the
  returns index); outputs are long frames keyed the same way, NaN = SQL NULL.

Modules (one job each):
- ``return_stats.portfolio_return_stats``: realized_vol_21d/63d, var_95_1d, cvar_95_1d;
- ``har.har_forecasts``: har_vol_1d, har_vol_21d (HAR-RV, per-window OLS);
- ``holdings.holdings_risk``: holdings_vol_63d and per position realized_vol_63d,
  risk_contribution;
- ``correlations.correlations``: avg_pairwise_correlation,
  correlation_effective_positions and the pair list (symbol_a < symbol_b);
- ``factor_covariance.factor_covariances``: the EWMA covariance / correlation of the 8
  factor ETFs per session (``covariance_matrices`` for the arrays);
- ``stress.stress_results``: direct / correlated P&L and returns per active scenario,
  and the worst scenario per (portfolio, d).
"""
