"""A deliberately plain implementation of DESIGN "Risk analytics", for the risk mart tests.

Written from DESIGN.md alone: loops over portfolios, sessions, positions and pairs,
`np.linalg.lstsq` per HAR window, `np.quantile` (linear) for VaR, pandas
`DataFrame.corr(min_periods=30)` per window, an explicit EWMA loop for the factor
covariance and `np.linalg.solve` per stress scenario. Nothing from `risk/` or the dbt
models is imported; the inputs are plain rows read from the database by the test.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

ANNUAL = math.sqrt(252)
ETF_FACTORS = (("SPY", "market_beta"), ("TLT", "ir_beta"), ("VTV", "value"), ("VUG", "growth"),
               ("MTUM", "momentum"), ("QUAL", "quality"), ("IWM", "size"), ("USMV", "low_vol"))
FACTORS = tuple(f for _, f in ETF_FACTORS)
BLOCKS = (("market_beta", "ir_beta"),
          ("value", "growth", "momentum", "quality", "size", "low_vol"))
LAMBDA = 0.94


@dataclass
class RefInputs:
    sessions: list[date]  # the NYSE sessions, from well before the first entry through as_of
    snapshots: pd.DataFrame  # portfolio_id, snapshot_date, equity, daily_return
    values: pd.DataFrame  # portfolio_id, position_id, snapshot_date, symbol, market_value, is_open
    risk_symbol: dict[int, str]  # position_id -> underlying for an option, else its symbol
    prices: dict[tuple[str, date], float]  # (symbol, session) -> adj_close, else close
    unavailable: set[str]
    sectors: dict[str, str]  # symbol -> 'ETF' / GICS sector (others: Unclassified)
    dollar_exposure: dict[tuple[int, date, str], float | None]
    scenarios: list[tuple[str, str, float, bool]]  # scenario_id, factor, shock, active
    duration: float = 17.0
    _returns: dict[str, dict[date, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {d: i for i, d in enumerate(self.sessions)}

    def window(self, d: date, n: int) -> list[date] | None:
        """The n sessions ending on d (None when the grid does not reach back that far)."""
        i = self.index[d]
        return self.sessions[i - n + 1:i + 1] if i - n + 1 >= 0 else None

    def symbol_returns(self, symbol: str) -> dict[date, float]:
        """adj_close(s) / adj_close(previous session) - 1 where both exist."""
        if symbol not in self._returns:
            out = {}
            if symbol not in self.unavailable:
                for prev, s in zip(self.sessions, self.sessions[1:], strict=False):
                    a, b = self.prices.get((symbol, prev)), self.prices.get((symbol, s))
                    if a is not None and b is not None:
                        out[s] = b / a - 1
            self._returns[symbol] = out
        return self._returns[symbol]


def _std(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _cov(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (len(xs) - 1)


def portfolio_returns(inp: RefInputs, pid: int) -> dict[date, float]:
    snaps = inp.snapshots[inp.snapshots.portfolio_id == pid].sort_values("snapshot_date")
    first = snaps.snapshot_date.iloc[0]
    return {r.snapshot_date: float(r.daily_return) for r in snaps.itertuples()
            if r.snapshot_date > first and r.daily_return is not None
            and not pd.isna(r.daily_return)}


def realized_vol(inp: RefInputs, rets: dict[date, float], d: date, n: int) -> float | None:
    w = inp.window(d, n)
    if w is None or any(s not in rets for s in w):
        return None
    return ANNUAL * _std([rets[s] for s in w])


def har_vol(inp: RefInputs, rets: dict[date, float], d: date, h: int) -> float | None:
    rv = {s: r * r for s, r in rets.items()}

    def x_of(t: date) -> list[float] | None:
        w22 = inp.window(t, 22)
        if w22 is None or any(s not in rv for s in w22):
            return None
        return [1.0, rv[t], sum(rv[s] for s in w22[-5:]) / 5, sum(rv[s] for s in w22) / 22]

    def y_of(t: date) -> float | None:
        i = inp.index[t]
        ahead = inp.sessions[i + 1:i + 1 + h]
        if len(ahead) < h or any(s not in rv for s in ahead):
            return None
        return sum(rv[s] for s in ahead) / h

    i = inp.index[d]
    if i - h < 0:
        return None
    fit = inp.window(inp.sessions[i - h], 252) or inp.sessions[:i - h + 1]
    xs, ys = [], []
    for t in fit:
        x, y = x_of(t), y_of(t)
        if x is not None and y is not None:
            xs.append(x)
            ys.append(y)
    x_d = x_of(d)
    if len(xs) < 60 or x_d is None:
        return None
    b = np.linalg.lstsq(np.array(xs), np.array(ys), rcond=None)[0]
    forecast = float(np.dot(x_d, b))
    return math.sqrt(252 * max(forecast, 0.0))


def var_cvar(inp: RefInputs, rets: dict[date, float], d: date) -> tuple[float | None, float | None]:
    w = inp.window(d, 252) or inp.sessions[:inp.index[d] + 1]
    xs = [rets[s] for s in w if s in rets]
    if len(xs) < 60:
        return None, None
    q = float(np.quantile(np.array(xs), 0.05))
    tail = [x for x in xs if x <= q]
    return -q, -(sum(tail) / len(tail))


def correlation_pairs(inp: RefInputs, symbols: list[str], d: date
                      ) -> dict[tuple[str, str], tuple[float, int]]:
    """rho_ab on the 90 sessions ending on d where both have a return (>= 30, both
    series with non-zero variance there), for a < b in byte order."""
    w = inp.window(d, 90)
    frame = pd.DataFrame({s: [inp.symbol_returns(s).get(t, np.nan) for t in w] for s in symbols},
                         index=w, dtype=float)
    corr = frame.corr(min_periods=30)
    out = {}
    for i, a in enumerate(symbols):
        for b in symbols[i + 1:]:
            x, y = frame[a].to_numpy(), frame[b].to_numpy()
            both = ~np.isnan(x) & ~np.isnan(y)
            n = int(both.sum())
            if n < 30 or np.var(x[both]) == 0 or np.var(y[both]) == 0:
                continue
            out[(a, b)] = (float(corr.loc[a, b]), n)
    return out


def factor_covariance(inp: RefInputs, d: date) -> np.ndarray | None:
    """EWMA (lambda 0.94) covariance of the 8 ETFs' returns on the sessions of the 252
    ending on d where all 8 have a return (at least 60)."""
    w = inp.window(d, 252) or inp.sessions[:inp.index[d] + 1]
    rows = []
    for t in w:
        r = [inp.symbol_returns(etf).get(t) for etf, _ in ETF_FACTORS]
        if all(x is not None for x in r):
            rows.append(r)
    if len(rows) < 60:
        return None
    rows = rows[::-1]  # k = 0 is the latest
    weights = [LAMBDA ** k for k in range(len(rows))]
    total = sum(weights)
    weights = [x / total for x in weights]
    mu = np.zeros(8)
    for k, row in enumerate(rows):
        mu += weights[k] * np.array(row)
    cov = np.zeros((8, 8))
    for k, row in enumerate(rows):
        dev = np.array(row) - mu
        cov += weights[k] * np.outer(dev, dev)
    return cov


def factor_covariance_rows(covs: dict[date, np.ndarray | None]) -> pd.DataFrame:
    out = []
    for d, cov in sorted(covs.items()):
        if cov is None:
            continue
        for a, fa in enumerate(FACTORS):
            for b, fb in enumerate(FACTORS):
                out.append({"as_of_date": d, "factor_a": fa, "factor_b": fb,
                            "covariance": cov[a, b],
                            "correlation": cov[a, b] / math.sqrt(cov[a, a] * cov[b, b])})
    return pd.DataFrame(out)


def stress_rows(inp: RefInputs, pid: int, d: date, equity: float,
                cov: np.ndarray | None) -> list[dict]:
    shocks: dict[str, dict[str, float]] = defaultdict(dict)
    for scenario_id, factor, shock, active in inp.scenarios:
        if active:
            shocks[scenario_id][factor] = -inp.duration * shock if factor == "ir_beta" else shock
    out = []
    for scenario_id in sorted(shocks):
        applied = shocks[scenario_id]

        def exposure(k: str) -> float:
            e = inp.dollar_exposure.get((pid, d, k))
            return 0.0 if e is None or pd.isna(e) else float(e)

        direct = sum(exposure(k) * s for k, s in applied.items())
        correlated = None
        if cov is not None:
            correlated = direct
            for block in BLOCKS:
                shocked = [k for k in block if k in applied]
                unshocked = [k for k in block if k not in applied]
                if not shocked or not unshocked:
                    continue
                si = [FACTORS.index(k) for k in shocked]
                ui = [FACTORS.index(k) for k in unshocked]
                s_vec = np.array([applied[k] for k in shocked])
                moves = cov[np.ix_(ui, si)] @ np.linalg.solve(cov[np.ix_(si, si)], s_vec)
                correlated += sum(exposure(k) * m for k, m in zip(unshocked, moves, strict=True))
        out.append({"portfolio_id": pid, "snapshot_date": d, "scenario_id": scenario_id,
                    "direct_pnl": direct, "correlated_pnl": correlated,
                    "direct_return": direct / equity if equity > 0 else None,
                    "correlated_return": (correlated / equity
                                          if equity > 0 and correlated is not None else None)})
    return out


@dataclass
class RefResult:
    portfolio_risk: pd.DataFrame
    position_risk: pd.DataFrame
    sectors: pd.DataFrame
    stress: pd.DataFrame
    covariances: pd.DataFrame
    correlations: pd.DataFrame


def compute(inp: RefInputs) -> RefResult:
    portfolio_rows, position_rows, sector_rows, stress_out, matrix_rows = [], [], [], [], []
    open_rows = inp.values[inp.values.is_open.astype(bool)]
    by_session = {k: g for k, g in open_rows.groupby(["portfolio_id", "snapshot_date"])}
    days = sorted(set(inp.snapshots.snapshot_date))
    covs = {d: factor_covariance(inp, d) for d in days}
    for pid in sorted(set(inp.snapshots.portfolio_id)):
        snaps = inp.snapshots[inp.snapshots.portfolio_id == pid].sort_values("snapshot_date")
        rets = portfolio_returns(inp, pid)
        peak, max_dd = None, None
        latest = snaps.snapshot_date.iloc[-1]
        for snap in snaps.itertuples():
            d, equity = snap.snapshot_date, float(snap.equity)
            row = {"portfolio_id": pid, "snapshot_date": d,
                   "realized_vol_21d": realized_vol(inp, rets, d, 21),
                   "realized_vol_63d": realized_vol(inp, rets, d, 63),
                   "har_vol_1d": har_vol(inp, rets, d, 1),
                   "har_vol_21d": har_vol(inp, rets, d, 21)}
            row["var_95_1d"], row["cvar_95_1d"] = var_cvar(inp, rets, d)
            # drawdown over the snapshots <= d
            peak = equity if peak is None else max(peak, equity)
            drawdown = equity / peak - 1 if peak > 0 else None
            if drawdown is not None:
                max_dd = drawdown if max_dd is None else min(max_dd, drawdown)
            row["drawdown"], row["max_drawdown"] = drawdown, max_dd

            positions = [p for p in by_session.get((pid, d), pd.DataFrame()).itertuples()] \
                if (pid, d) in by_session else []
            # concentration by priced symbol
            by_symbol: dict[str, float] = defaultdict(float)
            for p in positions:
                by_symbol[p.symbol] += float(p.market_value)
            total = sum(abs(v) for v in by_symbol.values())
            if total == 0:
                row.update(hhi=None, effective_num_positions=None, top_3_weight=None,
                           top_10_weight=None)
            else:
                ws = sorted((abs(v) / total for v in by_symbol.values()), reverse=True)
                hhi = 10000 * sum(x * x for x in ws)
                row.update(hhi=hhi, effective_num_positions=10000 / hhi,
                           top_3_weight=sum(ws[:3]), top_10_weight=sum(ws[:10]))

            # holdings back-cast and position risk
            w63 = inp.window(d, 63)
            back = None
            if equity > 0 and any(float(p.market_value) != 0 for p in positions):
                series = {p.position_id: [inp.symbol_returns(inp.risk_symbol[p.position_id])
                                          .get(t, 0.0) for t in w63] for p in positions}
                weights = {p.position_id: float(p.market_value) / equity for p in positions}
                r_p = [sum(weights[i] * series[i][k] for i in series) for k in range(63)]
                back = (r_p, series, weights)
                row["holdings_vol_63d"] = ANNUAL * _std(r_p)
            else:
                row["holdings_vol_63d"] = None
            for p in positions:
                own = [inp.symbol_returns(inp.risk_symbol[p.position_id])[t] for t in w63
                       if t in inp.symbol_returns(inp.risk_symbol[p.position_id])]
                contribution = None
                if back is not None:
                    r_p, series, weights = back
                    var_p = _cov(r_p, r_p)
                    if var_p != 0:
                        contribution = weights[p.position_id] * _cov(series[p.position_id], r_p) \
                            / var_p
                position_rows.append({
                    "portfolio_id": pid, "position_id": p.position_id, "snapshot_date": d,
                    "symbol": p.symbol,
                    "realized_vol_63d": ANNUAL * _std(own) if len(own) >= 30 else None,
                    "risk_contribution": contribution})

            # correlation summary over U(d)
            universe = sorted({inp.risk_symbol[p.position_id] for p in positions
                               if float(p.market_value) != 0
                               and inp.risk_symbol[p.position_id] not in inp.unavailable})
            pairs = correlation_pairs(inp, universe, d) if universe else {}
            row["avg_pairwise_correlation"] = (sum(r for r, _ in pairs.values()) / len(pairs)
                                               if pairs else None)
            sums = {s: sum(float(p.market_value) for p in positions
                           if inp.risk_symbol[p.position_id] == s) for s in universe}
            norm = sum(abs(v) for v in sums.values())
            cep = None
            if universe and norm > 0:
                w = {s: v / norm for s, v in sums.items()}
                quad = 0.0
                for a in universe:
                    for b in universe:
                        rho = 1.0 if a == b else pairs.get((min(a, b), max(a, b)), (0.0, 0))[0]
                        quad += w[a] * w[b] * rho
                cep = 1 / quad if quad > 1e-12 else None
            row["correlation_effective_positions"] = cep
            if d == latest:
                for (a, b), (rho, n) in pairs.items():
                    matrix_rows.append({"portfolio_id": pid, "as_of_date": d, "symbol_a": a,
                                        "symbol_b": b, "correlation": rho, "n_obs": n})

            # sectors (a position's sector is its risk symbol's)
            by_sector: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
            for p in positions:
                sector = inp.sectors.get(inp.risk_symbol[p.position_id], "Unclassified")
                mv = float(p.market_value)
                by_sector[sector][0 if mv > 0 else 1] += mv if mv != 0 else 0.0
            for sector, (long_value, short_value) in by_sector.items():
                gross, net = long_value - short_value, long_value + short_value
                sector_rows.append({
                    "portfolio_id": pid, "snapshot_date": d, "sector": sector,
                    "long_value": long_value, "short_value": short_value,
                    "gross_exposure": gross, "net_exposure": net,
                    "gross_weight": gross / equity if equity > 0 else None,
                    "net_weight": net / equity if equity > 0 else None})

            # stress scenarios and the worst of them
            scenarios = stress_rows(inp, pid, d, equity, covs[d])
            stress_out.extend(scenarios)
            worst = min(scenarios, key=lambda s: (s["correlated_pnl"] if s["correlated_pnl"]
                                                  is not None else s["direct_pnl"],
                                                  s["scenario_id"].encode()))
            row["worst_stress_scenario"] = worst["scenario_id"]
            row["worst_stress_pnl"] = (worst["correlated_pnl"] if worst["correlated_pnl"]
                                       is not None else worst["direct_pnl"])
            portfolio_rows.append(row)
    return RefResult(pd.DataFrame(portfolio_rows), pd.DataFrame(position_rows),
                     pd.DataFrame(sector_rows), pd.DataFrame(stress_out),
                     factor_covariance_rows(covs), pd.DataFrame(matrix_rows))
