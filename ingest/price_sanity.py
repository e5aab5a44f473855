"""Price sanity: absurd rows (non-positive, missing, one-day moves beyond ×N) are
rejected and reported by symbol and date, never stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ingest.option_symbols import OPTION_RE


@dataclass(frozen=True)
class RejectedPrice:
    symbol: str
    price_date: date
    close: float
    reason: str


def sanity_filter(
    prices: pd.DataFrame, previous_close: dict[str, float], max_move: float
) -> tuple[pd.DataFrame, list[RejectedPrice]]:
    """Drop non-positive / NaN prices and one-day moves beyond ×max_move either way.

    A move is measured from the last *accepted* close (the stored one before the batch
    for a symbol's first row), so a one-day spike is rejected and the normal day after
    it is kept. Each pass is vectorized and rejects the first absurd row of every
    symbol that still has one; only those symbols are re-checked, so the number of
    passes is the largest number of rejections in one symbol, not the row count.
    Options are exempt from the move check: an OTM option can lose 99 % in a day.
    """
    df = prices.sort_values(["symbol", "price_date"], kind="stable").reset_index(drop=True)
    close = df["close"].to_numpy(dtype=float)
    adj = df["adj_close"].to_numpy(dtype=float)
    bad = ~np.isfinite(close) | (close <= 0) | np.isinf(adj) | (adj <= 0)
    rejected = _rejections(df[bad], "non-positive or missing price")
    df = df[~bad].reset_index(drop=True)

    sym = df["symbol"].to_numpy(dtype=object)
    close = df["close"].to_numpy(dtype=float)
    stored = df["symbol"].map(previous_close).to_numpy(dtype=float)  # NaN: nothing stored
    keep = np.ones(len(df), dtype=bool)
    reference = np.full(len(df), np.nan)
    # options legitimately move more than ×10 in a day (an OTM call expiring at a tick)
    active = ~df["symbol"].str.replace(" ", "").str.match(OPTION_RE.pattern).to_numpy(dtype=bool)
    while True:
        idx = np.flatnonzero(keep & active)
        if not len(idx):
            break
        s, c = sym[idx], close[idx]
        first = np.r_[True, s[1:] != s[:-1]]
        prev = np.where(first, stored[idx], np.r_[np.nan, c[:-1]])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = c / prev
        absurd = (ratio > max_move) | (ratio < 1.0 / max_move)  # NaN (no reference) is fine
        if not absurd.any():
            break
        hits, hit_syms = idx[absurd], s[absurd]
        first_hit = np.r_[True, hit_syms[1:] != hit_syms[:-1]]
        keep[hits[first_hit]] = False
        reference[hits[first_hit]] = prev[absurd][first_hit]
        active = np.isin(sym, hit_syms[first_hit])
    if not keep.all():
        spikes = df[~keep].assign(ref=reference[~keep])
        rejected += [
            RejectedPrice(str(s), d, float(c), f"one-day move beyond x{max_move:g} from {r:g}")
            for s, d, c, r in zip(spikes["symbol"], spikes["price_date"], spikes["close"],
                                  spikes["ref"], strict=True)
        ]
    rejected.sort(key=lambda r: (r.symbol, r.price_date))
    return df[keep].reset_index(drop=True), rejected


def _rejections(rows: pd.DataFrame, reason: str) -> list[RejectedPrice]:
    return [
        RejectedPrice(str(s), d, float(c), reason)
        for s, d, c in zip(rows["symbol"], rows["price_date"], rows["close"], strict=True)
    ]


