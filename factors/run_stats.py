"""What one factors phase did (``as_stats`` goes into the batch summary)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field


@dataclass
class FactorRunStats:
    """What one factors phase did (``as_stats`` goes into the batch summary)."""

    symbols: int = 0  # symbols with needed pairs (unavailable ones included)
    pairs_needed: int = 0  # (symbol, session) pairs missing at least one factor row
    rows_written: int = 0  # (symbol, session, factor) rows written
    null_beta_rows: int = 0  # of which beta NULL (insufficient history)
    unavailable_symbols: list[str] = field(default_factory=list)  # no prices: no rows
    unavailable_pairs: int = 0  # needed pairs of those symbols (still needed next run)
    restated_portfolios: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0

    def as_stats(self) -> dict:
        return asdict(self)


class Lap:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.last, 3)
        self.last = now


