"""The provider chain through the real price store (issue #19, DB level): each stored
row keeps the source of the provider that served it, the second provider is asked only
for what the first lacked, and a second run of the same scope asks nobody."""

from __future__ import annotations

from datetime import date

import batch_helpers

from ingest.portfolio_csv import PositionRow
from ingest.portfolio_store import store_portfolio
from ingest.providers import CsvProvider, ProviderChain, SyntheticProvider
from snapfolio.core import calendar
from snapfolio.core.factor_definitions import factor_etfs, load_definitions

AS_OF = date(2025, 3, 31)
HELD = ["AAPL", "MSFT", "NVDA", "XOM"]


def _price_file(path, symbols, start, end) -> None:
    frame = SyntheticProvider(seed=5).fetch(symbols, start, end).prices
    lines = ["symbol,date,close"] + [f"{s},{d.isoformat()},{c!r}" for s, d, c in
                                     zip(frame["symbol"], frame["price_date"], frame["close"],
                                         strict=True)]
    path.write_text("\n".join(lines) + "\n")


def test_chain_sources_per_row_and_second_run_asks_nobody(db, settings, tmp_path):
    etfs = factor_etfs(load_definitions())
    start = calendar.sessions_back(date(2025, 1, 6), 400)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    _price_file(first, ["AAPL", "MSFT", *etfs], start, AS_OF)  # the first knows half
    _price_file(second, ["NVDA", "XOM", "AAPL"], start, AS_OF)  # the rest (and AAPL again)
    rows = [PositionRow(line=i + 2, symbol=s, underlying_symbol=None, quantity=10,
                        entry_price=100, entry_date=date(2025, 1, 6), exit_date=None,
                        exit_price=None, investment_class="PUBLIC", investment_subtype="STOCK",
                        option_type=None, strike=None, expiration=None, multiplier=1)
            for i, s in enumerate(HELD)]
    with db.engine.begin() as conn:
        pid = store_portfolio(conn, "chain", rows).portfolio_id
    a, b = CsvProvider(str(first)), CsvProvider(str(second))
    chain = ProviderChain([a, b])

    result = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=chain)
    assert result.unavailable == {}
    sources = {r["symbol"]: r["sources"] for r in db.rows(
        "select symbol, array_agg(distinct source) as sources from raw.prices group by symbol")}
    # every row of a symbol comes from the first provider that had it: AAPL from the
    # first file although the second has it too
    assert sources == {**{s: [a.name] for s in ["AAPL", "MSFT", *etfs]},
                       "NVDA": [b.name], "XOM": [b.name]}
    assert result.provider_requests >= 1

    again = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=chain)
    assert again.plan.requests == [] and again.provider_requests == 0
    assert again.rows_stored == 0
