"""An independent, deliberately simple implementation of the accounting rules (README "Accounting").

Plain Python loops over positions and sessions (the opposite of the SQL's set-based
design) so that a bug in one is unlikely to be repeated in the other. Tests compare the
marts with this, row by row.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date

import pandas as pd

STALE_SESSIONS = 5


@dataclass
class RefPosition:
    position_id: int
    portfolio_id: int
    symbol: str
    underlying_symbol: str | None
    quantity: float
    entry_price: float
    entry_date: date
    exit_date: date | None
    exit_price: float | None
    option_type: str | None
    strike: float | None
    expiration: date | None
    multiplier: int


def expected_position_values(
    positions: list[RefPosition],
    closes: dict[tuple[str, date], float],
    sessions: list[date],
    as_of: date,
    unavailable: set[str],
) -> pd.DataFrame:
    index = {d: i for i, d in enumerate(sessions)}
    dates_by_symbol: dict[str, list[date]] = {}
    for symbol, d in sorted(closes):
        dates_by_symbol.setdefault(symbol, []).append(d)

    def last_close_on_or_before(symbol: str, d: date) -> tuple[date, float] | None:
        ds = dates_by_symbol.get(symbol, [])
        k = bisect.bisect_right(ds, d)
        return (ds[k - 1], closes[(symbol, ds[k - 1])]) if k else None

    rows = []
    for p in positions:
        exit_date, exit_price = p.exit_date, p.exit_price
        if p.expiration is not None and exit_date is None:
            exit_date = next(s for s in sessions if s > p.expiration)
            und = last_close_on_or_before(p.underlying_symbol, p.expiration)
            if und is None:
                exit_price = p.entry_price
            elif p.option_type == "CALL":
                exit_price = max(und[1] - p.strike, 0.0)
            else:
                exit_price = max(p.strike - und[1], 0.0)

        def price_at(d: date, p=p) -> tuple[float, str]:
            found = last_close_on_or_before(p.symbol, d)
            if found is not None:
                age = index[d] - index[found[0]]
                if age == 0:
                    return found[1], "close"
                if age <= STALE_SESSIONS:
                    return found[1], "stale"
                return found[1], "entry"
            return p.entry_price, "entry"

        def cumulative(d: date, p=p, exit_date=exit_date, exit_price=exit_price) -> float:
            if exit_date is not None and d >= exit_date:
                return p.quantity * (exit_price - p.entry_price) * p.multiplier
            return p.quantity * (price_at(d)[0] - p.entry_price) * p.multiplier

        first = next(s for s in sessions if s >= p.entry_date)
        for d in sessions[index[first]: index[as_of] + 1]:
            is_open = exit_date is None or d < exit_date
            price, source = price_at(d)
            previous = sessions[index[d] - 1]
            existed_previous = previous >= first
            rows.append(
                {
                    "portfolio_id": p.portfolio_id,
                    "position_id": p.position_id,
                    "snapshot_date": d,
                    "symbol": p.symbol,
                    "price": price,
                    "price_source": source,
                    "market_value": p.quantity * price * p.multiplier if is_open else 0.0,
                    "cumulative_pnl": cumulative(d),
                    "previous_cumulative_pnl": cumulative(previous) if existed_previous else 0.0,
                    "daily_pnl": cumulative(d) - cumulative(previous) if existed_previous else 0.0,
                    "is_open": is_open,
                    "is_symbol_unavailable": p.symbol in unavailable,
                }
            )
    return pd.DataFrame(rows)


def expected_snapshots(position_values: pd.DataFrame, initial_equity: dict[int, float]) -> pd.DataFrame:
    out = []
    for (portfolio_id, d), g in position_values.groupby(["portfolio_id", "snapshot_date"]):
        long_value = g.loc[g.market_value > 0, "market_value"].sum()
        short_value = g.loc[g.market_value < 0, "market_value"].sum()
        cum = g.cumulative_pnl.sum()
        init = initial_equity[portfolio_id]
        blocking = g[g.is_open & (g.price_source == "entry") & ~g.is_symbol_unavailable]
        out.append(
            {
                "portfolio_id": portfolio_id,
                "snapshot_date": d,
                "equity": init + cum,
                "long_value": long_value,
                "short_value": short_value,
                "gross_exposure": long_value - short_value,
                "net_exposure": long_value + short_value,
                "cash": init + cum - (long_value + short_value),
                "daily_pnl": g.daily_pnl.sum(),
                "daily_return": g.daily_pnl.sum() / (init + g.previous_cumulative_pnl.sum()),
                "cumulative_pnl": cum,
                "position_count": int(g.is_open.sum()),
                "is_complete": blocking.empty,
            }
        )
    return pd.DataFrame(out)
