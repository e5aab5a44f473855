"""Stress P&L: a hand-computed two-factor case and a plain loop over the DESIGN seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk.factor_covariance import FACTORS
from risk.stress import stress_results

SEED = [  # DESIGN's table: scenario_id, factor, shock, active
    ("market_up_5", "market_beta", 0.05), ("market_down_5", "market_beta", -0.05),
    ("rates_up_50bp", "ir_beta", 0.005), ("rates_down_50bp", "ir_beta", -0.005),
    ("market_up_10", "market_beta", 0.10), ("market_down_10", "market_beta", -0.10),
    ("market_crash_35", "market_beta", -0.35), ("market_rally_25", "market_beta", 0.25),
    ("rates_up_25bp", "ir_beta", 0.0025), ("rates_down_25bp", "ir_beta", -0.0025),
    ("rates_up_100bp", "ir_beta", 0.01), ("rates_down_100bp", "ir_beta", -0.01),
    ("rate_spike_300bp", "ir_beta", 0.03),
    ("value_rotation_20", "value", 0.20), ("value_rotation_20", "growth", -0.10),
    ("growth_rally_15", "growth", 0.15), ("growth_rally_15", "momentum", 0.10),
    ("small_cap_outperformance_10", "size", 0.10),
    ("quality_flight_12", "quality", 0.12), ("quality_flight_12", "market_beta", -0.05),
    ("vix_spike_150", "low_vol", -0.25), ("vix_spike_150", "market_beta", -0.15),
    ("liquidity_crisis", "market_beta", -0.20), ("liquidity_crisis", "low_vol", -0.30),
    ("liquidity_crisis", "quality", 0.15), ("liquidity_crisis", "size", -0.10),
]
REPLAY = [("covid_crash_2020", "market_beta", -0.35), ("covid_crash_2020", "value", -0.40)]
BLOCKS = [["market_beta", "ir_beta"],
          ["value", "growth", "momentum", "quality", "size", "low_vol"]]


def scenarios() -> pd.DataFrame:
    rows = [(*r, True) for r in SEED] + [(*r, False) for r in REPLAY]
    return pd.DataFrame(rows, columns=["scenario_id", "factor", "shock", "active"])


def cov_frame(covs: dict) -> pd.DataFrame:
    rows = [(d, a, b, c[i, j]) for d, c in covs.items()
            for i, a in enumerate(FACTORS) for j, b in enumerate(FACTORS)]
    return pd.DataFrame(rows, columns=["as_of_date", "factor_a", "factor_b", "covariance"])


def test_hand_computed_two_factor_case():
    """Market block only: var_m = 4e-4, var_r = 2e-4, cov = −1e-4 (other factors
    uncorrelated with both, but value correlated with the market across blocks)."""
    cov = np.eye(8) * 1e-4
    cov[0, 0], cov[1, 1], cov[0, 1], cov[1, 0] = 4e-4, 2e-4, -1e-4, -1e-4
    cov[0, 2] = cov[2, 0] = 1.5e-4  # value vs market: a different block, must be ignored
    exposures = pd.DataFrame({"portfolio_id": "p", "snapshot_date": 1,
                              "factor": ["market_beta", "ir_beta", "value"],
                              "dollar_exposure": [1.2e6, 3e5, 5e5]})
    targets = pd.DataFrame({"portfolio_id": ["p"], "snapshot_date": [1], "equity": [1e6]})
    sc = pd.DataFrame({"scenario_id": ["down", "rates"], "factor": ["market_beta", "ir_beta"],
                       "shock": [-0.10, 0.01]})
    res, worst = stress_results(exposures, targets, cov_frame({1: cov}), sc)
    res = res.set_index("scenario_id")
    # market −10 %: f_ir = (−1e-4 / 4e-4) × −0.10 = +0.025; value gets no move.
    # direct = 1.2e6 × −0.10 = −120,000; correlated = −120,000 + 3e5 × 0.025 = −112,500.
    assert abs(res.loc["down", "direct_pnl"] + 120_000) < 1e-6
    assert abs(res.loc["down", "correlated_pnl"] + 112_500) < 1e-6
    # +100 bp: TLT return −17 × 0.01 = −0.17; f_mkt = (−1e-4 / 2e-4) × −0.17 = +0.085.
    # direct = 3e5 × −0.17 = −51,000; correlated = −51,000 + 1.2e6 × 0.085 = +51,000.
    assert abs(res.loc["rates", "direct_pnl"] + 51_000) < 1e-6
    assert abs(res.loc["rates", "correlated_pnl"] - 51_000) < 1e-6
    assert abs(res.loc["rates", "direct_return"] + 0.051) < 1e-12
    assert worst.worst_stress_scenario[0] == "down"
    assert abs(worst.worst_stress_pnl[0] + 112_500) < 1e-6


def reference(exposures, targets, covs, duration=17.0):
    """Plain loops: per (portfolio, d) and scenario, per block with np.linalg.inv."""
    out = []
    ids = sorted({s for s, *_ in SEED})
    for p, d, eq in targets.itertuples(index=False):
        e = {f: 0.0 for f in FACTORS}
        for _, row in exposures[(exposures.portfolio_id == p)
                                & (exposures.snapshot_date == d)].iterrows():
            if row.factor in e and not np.isnan(row.dollar_exposure):
                e[row.factor] += row.dollar_exposure
        for sid in ids:
            shock = {f: (-duration * s if f == "ir_beta" else s)
                     for i, f, s in SEED if i == sid}
            direct = sum(e[f] * s for f, s in shock.items())
            cov = covs.get(d)
            if cov is None:
                corr = np.nan
            else:
                corr = direct
                for block in BLOCKS:
                    S = [f for f in block if f in shock]
                    U = [f for f in block if f not in shock]
                    if not S:
                        continue
                    si = [FACTORS.index(f) for f in S]
                    for u in U:
                        ui = FACTORS.index(u)
                        move = cov[ui, si] @ np.linalg.inv(cov[np.ix_(si, si)]) @ np.array(
                            [shock[f] for f in S])
                        corr += e[u] * move
            scale = 1.0 / eq if eq > 0 else np.nan
            out.append((p, d, sid, direct, corr, direct * scale, corr * scale))
    return pd.DataFrame(out, columns=["portfolio_id", "snapshot_date", "scenario_id",
                                      "direct_pnl", "correlated_pnl", "direct_return",
                                      "correlated_return"])


def test_all_scenarios_match_loop():
    rng = np.random.default_rng(4)
    covs = {}
    for d in range(5):
        a = rng.normal(0, 0.01, (8, 30))
        covs[d] = a @ a.T / 30
    targets = pd.DataFrame([(f"p{i}", d, rng.uniform(-1e5, 1e6)) for i in range(4)
                            for d in range(6)], columns=["portfolio_id", "snapshot_date",
                                                         "equity"])
    ex = pd.DataFrame([(p, d, f, rng.normal(0, 5e5)) for p, d, _ in targets.itertuples(False)
                       for f in FACTORS + ["growth_value_spread"] if rng.random() > 0.15],
                      columns=["portfolio_id", "snapshot_date", "factor", "dollar_exposure"])
    ex.loc[ex.index[::7], "dollar_exposure"] = np.nan
    res, worst = stress_results(ex, targets, cov_frame(covs), scenarios())
    want = reference(ex, targets, covs)
    assert len(res) == len(targets) * 19 and set(res.scenario_id) == set(want.scenario_id)
    assert list(res.scenario_id) == list(want.scenario_id)
    for col in ["direct_pnl", "correlated_pnl", "direct_return", "correlated_return"]:
        a, b = res[col].to_numpy(), want[col].to_numpy()
        assert (np.isnan(a) == np.isnan(b)).all(), col
        ok = ~np.isnan(b)
        assert np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-6)) <= 1e-9, col
    assert res.correlated_pnl.isna().sum() == 4 * 19  # session 5 has no covariance
    want["rank"] = want.correlated_pnl.fillna(want.direct_pnl)
    best = want.sort_values(["portfolio_id", "snapshot_date", "rank", "scenario_id"]).groupby(
        ["portfolio_id", "snapshot_date"]).head(1)
    merged = worst.merge(best, on=["portfolio_id", "snapshot_date"])
    assert (merged.worst_stress_scenario == merged.scenario_id).all()
    assert np.allclose(merged.worst_stress_pnl, merged["rank"], rtol=1e-9)


def test_worst_tie_breaks_by_scenario_id():
    exposures = pd.DataFrame({"portfolio_id": "p", "snapshot_date": 1,
                              "factor": ["market_beta"], "dollar_exposure": [1e6]})
    targets = pd.DataFrame({"portfolio_id": ["p"], "snapshot_date": [1], "equity": [1e6]})
    sc = pd.DataFrame({"scenario_id": ["b_down", "a_down", "c_up"],
                       "factor": ["market_beta"] * 3, "shock": [-0.1, -0.1, 0.1]})
    _, worst = stress_results(exposures, targets, cov_frame({}), sc)  # covariance undefined
    assert worst.worst_stress_scenario[0] == "a_down"
    assert worst.worst_stress_pnl[0] == -1e5


def test_unknown_factor_is_one_clear_error():
    sc = pd.DataFrame({"scenario_id": ["x"], "factor": ["beta_of_moon"], "shock": [0.1]})
    targets = pd.DataFrame({"portfolio_id": ["p"], "snapshot_date": [1], "equity": [1.0]})
    empty = pd.DataFrame(columns=["portfolio_id", "snapshot_date", "factor",
                                  "dollar_exposure"])
    try:
        stress_results(empty, targets, cov_frame({}), sc)
    except ValueError as exc:
        assert str(exc) == "stress scenario 'x': unknown factor 'beta_of_moon'"
    else:
        raise AssertionError("no error")
