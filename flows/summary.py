"""What one batch did: the CLI prints it, `--json` emits it, run history stores it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date


@dataclass
class BatchSummary:
    """Filled phase by phase by `flows.batch.execute_batch`."""

    as_of: date
    portfolios: dict[str, int]
    kind: str = "daily"
    run_id: str | None = None
    status: str = "running"
    timings: dict[str, float] = field(default_factory=dict)
    prices: dict = field(default_factory=dict)
    factors: dict = field(default_factory=dict)
    risk: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    chunks: list[str] = field(default_factory=list)
    dbt_rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    portfolio_states: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    onboarded: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # informational, not warnings
    failed_portfolios: dict[str, str] = field(default_factory=dict)  # name -> error
    error: str | None = None

    def as_stats(self) -> dict:
        """JSON-ready (dates as ISO strings) for raw.batch_runs.stats and `--json`."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out
