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
"""
