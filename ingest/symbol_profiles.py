"""Symbol profiles (DESIGN "Sectors"): the provider fetch for symbols in scope with no
profile, and `snapfolio symbols load FILE.csv`, the operator's override.

Priority, lowest first: the shipped dbt seed (`dbt_project/seeds/symbol_profiles.csv`),
the provider, a manual load (source `manual`); dbt `int_symbol_sectors` picks the
winner. Both writers go through one upsert (sql/upsert_symbol_profiles.sql) in which a
provider row never replaces a manual one and an unchanged row is not rewritten.

Fetch (`fetch_missing_profiles`, called by the prices phase): the risk symbols in scope
(an option's is its underlying) minus those the seed or a manual row settles, those with
a complete stored profile (an ETF, or a sector), and those attempted within the cool-off
(raw.symbol_profile_attempts; the price cool-off setting, `unavailable_cooloff_hours`).
The rest are asked of the provider (chain) once, batched by `profiles_from`; a provider
that supplies no profiles (csv:, synthetic) is not asked and nothing is recorded, so a
later switch to a real provider asks at once. It never blocks the run: any failure is
logged and reported, and every symbol in scope still without a sector is named in the
result as `Unclassified` with the reason.

Restatement: a write that changes a symbol's classification (`ETF`, its sector, or
`Unclassified`, compared with what the seed or the stored row said before) marks the
risk rows of every portfolio holding it (the position's symbol or an option's
underlying) from the first entry of those positions on (`restatements.mark_risk_from`);
the next run's risk phase rebuilds those sessions' sector rows.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest import restatements
from ingest.csv_reader import CsvIssue, CsvRejectedError, TableSpec, read_csv_file
from ingest.input_limits import InputError, parse_symbol, shown
from ingest.option_symbols import parse_option_symbol
from ingest.providers.profiles import SymbolProfile, profiles_from
from ingest.providers.sectors import UnknownSectorError, gics_sector
from snapfolio.core.dbt_project import DBT_PROJECT_DIR
from snapfolio.core.sql import sql_text

__all__ = ["COLUMNS", "MANUAL_SOURCE", "ProfileFetch", "ProfileLoadResult",
           "SymbolProfileCsvError", "classification", "fetch_missing_profiles",
           "fetch_profiles_for_portfolios", "load_symbol_profiles", "parse_symbol_profiles",
           "risk_symbols", "seed_profiles"]

log = logging.getLogger(__name__)

MANUAL_SOURCE = "manual"
UNCLASSIFIED = "Unclassified"
COLUMNS = ("symbol", "sector", "industry", "name", "is_etf")
SPEC = TableSpec(columns=COLUMNS, required=("symbol", "sector"), noun="symbol profiles",
                 header_hint="symbol,sector[,industry][,name][,is_etf]")
TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
MAX_TEXT_LEN = 200  # name / industry
SEED_PATH = DBT_PROJECT_DIR / "seeds" / "symbol_profiles.csv"


class SymbolProfileCsvError(CsvRejectedError):
    """A symbol profile CSV rejected whole (nothing is written)."""


def classification(sector: str | None, is_etf: bool | None) -> str:
    """A position's sector from its risk symbol's profile (as dbt int_symbol_sectors)."""
    if is_etf:
        return "ETF"
    return sector or UNCLASSIFIED


@cache
def seed_profiles(path: Path = SEED_PATH) -> dict[str, tuple[str | None, bool]]:
    """The shipped seed: symbol -> (sector or None, is_etf)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["symbol"].strip().upper(): ((r.get("sector") or "").strip() or None,
                                              (r.get("is_etf") or "").strip().lower() == "true")
                for r in csv.DictReader(fh)}


# ---------------------------------------------------------------- writing (shared)


def _write_profiles(conn: sa.Connection, profiles: list[SymbolProfile], now: datetime
                    ) -> tuple[list[str], list[str], int]:
    """Upsert in the caller's transaction; returns (written, reclassified, portfolios marked).

    Reclassified: symbols whose classification differs from the one they had before
    (the stored row, else the seed, else Unclassified); their holders are marked for a
    risk restatement from the first entry of the holding positions on.
    """
    if not profiles:
        return [], [], 0
    history = restatements.marts_exist(conn)
    if history:
        restatements.begin_history_change(conn)
    rows = conn.execute(sql_text(__file__, "upsert_symbol_profiles"), {
        "s": [p.symbol for p in profiles], "n": [p.name for p in profiles],
        "sec": [p.sector for p in profiles], "ind": [p.industry for p in profiles],
        "etf": [bool(p.is_etf) for p in profiles], "src": [p.source for p in profiles],
        "now": now, "manual": MANUAL_SOURCE,
    }).all()
    seed = seed_profiles()
    changed = []
    for r in rows:
        before = (classification(r.old_sector, r.old_is_etf) if r.had_row
                  else classification(*seed.get(r.symbol, (None, False))))
        if classification(r.sector, r.is_etf) != before:
            changed.append(r.symbol)
    complete = [p.symbol for p in profiles if p.complete]
    if complete:
        conn.execute(sa.text("delete from raw.symbol_profile_attempts where symbol = any(:s)"),
                     {"s": complete})
    marked = 0
    if changed and history:
        holders = {int(p): d for p, d in conn.execute(
            sql_text(__file__, "profile_holders"), {"s": changed}).all()}
        restatements.mark_risk_from(conn, holders)
        marked = len(holders)
    return [r.symbol for r in rows], changed, marked


# ---------------------------------------------------------------- provider fetch


@dataclass
class ProfileFetch:
    """What the profile step of a run did; `unclassified` names every symbol in scope
    that has no sector (its positions are `Unclassified`) with the reason."""

    scoped: int = 0
    asked: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    cooling_off: dict[str, str] = field(default_factory=dict)
    reclassified: list[str] = field(default_factory=list)
    restated_portfolios: int = 0
    requests: int = 0
    unclassified: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def as_stats(self) -> dict:
        return {"scoped": self.scoped, "asked": list(self.asked), "stored": list(self.stored),
                "missing": dict(self.missing), "cooling_off": dict(self.cooling_off),
                "reclassified": list(self.reclassified),
                "restated_portfolios": self.restated_portfolios, "requests": self.requests,
                "unclassified": dict(self.unclassified), "error": self.error}


def risk_symbols(engine: Engine, portfolio_ids: list[int]) -> list[str]:
    """The portfolios' risk symbols (an option's underlying), every position ever held."""
    with engine.connect() as conn:
        return list(conn.execute(sql_text(__file__, "profile_risk_symbols"),
                                 {"ids": list(portfolio_ids)}).scalars())


def supplies_profiles(provider: object) -> bool:
    """A provider (or a chain with a member) that has `fetch_profiles`."""
    members = getattr(provider, "providers", None)
    if isinstance(members, list):
        return any(supplies_profiles(p) for p in members)
    return callable(getattr(provider, "fetch_profiles", None))


def fetch_profiles_for_portfolios(engine: Engine, provider: object, portfolio_ids: list[int],
                                  *, cooloff: timedelta = timedelta(hours=24),
                                  now: datetime | None = None) -> ProfileFetch:
    """The prices phase's profile step for the run's portfolios; never raises."""
    try:
        symbols = risk_symbols(engine, portfolio_ids)
    except Exception as exc:  # noqa: BLE001 - profiles never stop the run
        log.warning("symbol profiles skipped: %s: %s", type(exc).__name__, exc)
        return ProfileFetch(error=f"{type(exc).__name__}: {exc}")
    return fetch_missing_profiles(engine, provider, symbols, cooloff=cooloff, now=now)


def fetch_missing_profiles(engine: Engine, provider: object, symbols: list[str], *,
                           cooloff: timedelta = timedelta(hours=24),
                           now: datetime | None = None) -> ProfileFetch:
    """Ask the provider once for the symbols in scope with no profile, store what it
    has; never raises (a failure is logged and reported in `error`)."""
    out = ProfileFetch()
    try:
        _fetch(engine, provider, symbols, cooloff, now or datetime.now(UTC), out)
    except Exception as exc:  # noqa: BLE001 - profiles never stop the run
        log.warning("symbol profiles: %s: %s", type(exc).__name__, exc)
        out.error = f"{type(exc).__name__}: {exc}"
    if out.unclassified:
        log.info("no sector for %d symbol(s) (Unclassified): %s", len(out.unclassified),
                 ", ".join(sorted(out.unclassified)[:50]))
    return out


def _fetch(engine: Engine, provider: object, symbols: list[str], cooloff: timedelta,
           now: datetime, out: ProfileFetch) -> None:
    scope = sorted({s for s in symbols if parse_option_symbol(s) is None})
    out.scoped = len(scope)
    seed = seed_profiles()
    with engine.connect() as conn:
        state = {r.symbol: r for r in conn.execute(sql_text(__file__, "profile_state"),
                                                   {"s": scope})}
    name = getattr(provider, "name", type(provider).__name__)
    can_ask = supplies_profiles(provider)
    ask: list[str] = []
    reasons: dict[str, str] = {}  # why a symbol in scope has no sector
    for s in scope:
        st = state.get(s)
        if st is not None and st.source is not None:
            if st.source == MANUAL_SOURCE or st.is_etf or st.sector is not None:
                continue  # settled by a stored profile
        elif s in seed:
            continue
        if st is not None and st.attempted_at is not None and st.attempted_at > now - cooloff:
            out.cooling_off[s] = (f"asked {st.attempted_at:%Y-%m-%d %H:%M} UTC: "
                                  f"{st.attempt_reason or 'no profile'}")
            reasons[s] = out.cooling_off[s]
        elif can_ask:
            ask.append(s)
        else:
            reasons[s] = f"{name} supplies no profiles"
    if ask:
        out.asked = ask
        result = profiles_from(provider, ask)  # never raises; no transaction open
        out.requests = result.requests
        profiles = [p for s, p in result.profiles.items() if s in set(ask)]
        for p in profiles:
            if not p.complete:
                out.missing[p.symbol] = f"{p.source}: profile without a sector"
        for s in ask:
            if s not in result.profiles:
                out.missing[s] = result.missing.get(s, "no profile")
        with engine.begin() as conn:
            out.stored, out.reclassified, out.restated_portfolios = _write_profiles(
                conn, profiles, now)
            if out.missing:
                conn.execute(sql_text(__file__, "record_profile_attempts"),
                             {"s": list(out.missing), "r": list(out.missing.values()),
                              "now": now})
        reasons.update(out.missing)
        if out.stored:
            log.info("stored %d symbol profile(s) from %s", len(out.stored), name)
    with engine.connect() as conn:  # what each symbol in scope is classified as now
        state = {r.symbol: r for r in conn.execute(sql_text(__file__, "profile_state"),
                                                   {"s": scope})}
    for s in scope:
        st = state.get(s)
        current = (classification(st.sector, st.is_etf) if st is not None and st.source
                   else classification(*seed.get(s, (None, False))))
        if current == UNCLASSIFIED:
            out.unclassified[s] = reasons.get(s, "profile without a sector")


# ---------------------------------------------------------------- manual load


@dataclass(frozen=True)
class ProfileLoadResult:
    source: str
    rows: int
    symbols: list[str]
    written: list[str]  # inserted or changed (identical rows are not rewritten)
    reclassified: list[str]  # sector classification changed: holders restated
    restated_portfolios: int

    def as_stats(self) -> dict:
        return {"source": self.source, "rows": self.rows, "symbols": list(self.symbols),
                "rows_written": len(self.written), "written": list(self.written),
                "reclassified": list(self.reclassified),
                "restated_portfolios": self.restated_portfolios}


def load_symbol_profiles(engine: Engine, path: str | Path, *,
                         now: datetime | None = None) -> ProfileLoadResult:
    """Validate `path` whole, then write it in one transaction (source `manual`)."""
    profiles = parse_symbol_profiles(path)
    with engine.begin() as conn:
        written, changed, marked = _write_profiles(conn, profiles, now or datetime.now(UTC))
    log.info("symbols load %s: %d row(s), %d written, %d reclassified, %d portfolio(s) "
             "marked", path, len(profiles), len(written), len(changed), marked)
    return ProfileLoadResult(source=str(path), rows=len(profiles),
                             symbols=[p.symbol for p in profiles], written=written,
                             reclassified=changed, restated_portfolios=marked)


def parse_symbol_profiles(path: str | Path) -> list[SymbolProfile]:
    """Read and validate the whole file: every problem by line and column, or the rows."""
    table = read_csv_file(path, SPEC, SymbolProfileCsvError)
    issues = list(table.issues)
    width = len(table.header)
    out: list[SymbolProfile] = []
    first_line: dict[str, int] = {}
    for record in table.records:  # a profile file is small: one step per row is fine
        if len(record.fields) > width:
            issues.append(table.width_issue(record))
            continue
        cells = table.cells(record)
        lines = table.cell_lines(record)
        found = _parse_row(cells, lambda c, r=record, ls=lines: ls.get(c, r.line), issues)
        if found is None:
            continue
        if found.symbol in first_line:
            issues.append(CsvIssue(lines["symbol"], "symbol", (
                f"duplicate symbol {found.symbol} (first on line {first_line[found.symbol]})")))
            continue
        first_line[found.symbol] = lines["symbol"]
        out.append(found)
    if issues:
        raise SymbolProfileCsvError(str(path), issues)
    return out


def _parse_row(cells: dict[str, str], line, issues: list[CsvIssue]) -> SymbolProfile | None:
    """One row's profile, or None with its problems added (every cell is checked)."""
    n_before = len(issues)

    def bad(column: str, message: str) -> None:
        issues.append(CsvIssue(line(column), column, message))

    symbol = None
    raw_symbol = cells.get("symbol", "")
    if not raw_symbol:
        bad("symbol", "required")
    else:
        try:
            symbol = parse_symbol(raw_symbol)
        except InputError as exc:
            bad("symbol", str(exc))
        else:
            if parse_option_symbol(symbol) is not None:
                bad("symbol", f"{symbol} is an option symbol: an option's sector is its "
                              "underlying's (give the underlying a profile)")

    raw_etf = cells.get("is_etf", "")
    is_etf: bool | None = False
    if raw_etf:
        word = raw_etf.casefold()
        is_etf = True if word in TRUE_WORDS else False if word in FALSE_WORDS else None
        if is_etf is None:
            bad("is_etf", f"must be one of true/false/yes/no/1/0, got {shown(raw_etf)}")

    raw_sector = " ".join(cells.get("sector", "").split())
    sector = None
    if raw_sector:
        try:
            sector = gics_sector(raw_sector)
        except UnknownSectorError as exc:
            bad("sector", str(exc))
    elif is_etf is False:
        bad("sector", "required unless is_etf is true (a stock needs one of the 11 GICS "
                      "sectors)")

    texts = {}
    for column in ("industry", "name"):
        value = " ".join(cells.get(column, "").split())
        if len(value) > MAX_TEXT_LEN:
            bad(column, f"longer than {MAX_TEXT_LEN} characters: {shown(value)}")
        texts[column] = value or None
    if len(issues) > n_before or symbol is None or is_etf is None:
        return None
    return SymbolProfile(symbol=symbol, name=texts["name"], sector=sector,
                         industry=texts["industry"], is_etf=is_etf, source=MANUAL_SOURCE)

