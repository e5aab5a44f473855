"""Stress-test sanity table for one example portfolio (README "Risk numbers"): each
active scenario's direct and correlated P&L on the latest session, next to
portfolio market beta × equity × shock for the pure market scenarios (where direct P&L
must equal it). Onboards through the flow's own code on a scratch database.

    python benchmarks/stress_sanity.py [--file examples/portfolios/scott_yaphe_portfolio_5M.csv]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(ROOT / "examples/portfolios/scott_yaphe_portfolio_5M.csv"))
    parser.add_argument("--as-of", default="2025-12-31")
    args = parser.parse_args()
    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic:unavailable=GGIPX+NEAIX")
    from benchmarks._db import scratch_database

    with scratch_database("snapfolio_stress_sanity"):
        import sqlalchemy as sa

        from flows.batch import execute_batch
        from flows.request import BatchRequest, OnboardingRequest
        from snapfolio.core.database import get_engine

        name = Path(args.file).stem
        summary = execute_batch(BatchRequest(
            kind="onboarding", as_of=date.fromisoformat(args.as_of),
            onboardings=[OnboardingRequest(str(Path(args.file).resolve()), name)]))
        engine = get_engine()
        with engine.connect() as conn:
            rows = conn.execute(sa.text("""
                select r.scenario_id, r.direct_pnl, r.correlated_pnl, s.equity, b.beta,
                       (select max(sc.shock) from raw_seeds.stress_scenarios sc
                        where sc.scenario_id = r.scenario_id and sc.factor = 'market_beta'
                        having count(*) = (select count(*) from raw_seeds.stress_scenarios x
                                           where x.scenario_id = r.scenario_id)) as market_shock
                from marts.fct_portfolio_stress_results r
                join marts.fct_portfolio_snapshots s using (portfolio_id, snapshot_date)
                join marts.fct_portfolio_factor_exposures b
                  on b.portfolio_id = r.portfolio_id and b.snapshot_date = r.snapshot_date
                 and b.factor = 'market_beta'
                where r.snapshot_date = (select max(snapshot_date)
                                         from marts.fct_portfolio_stress_results)
                order by coalesce(r.correlated_pnl, r.direct_pnl)""")).mappings().all()
        engine.dispose()
    table = [dict(r) for r in rows]
    for r in table:
        r["beta_x_equity_x_shock"] = (r["beta"] * r["equity"] * r["market_shock"]
                                      if r["market_shock"] is not None else None)
    print("| scenario | direct P&L | correlated P&L | beta × equity × shock |")
    print("|---|---:|---:|---:|")
    for r in table:
        cmp = "" if r["beta_x_equity_x_shock"] is None else f"{r['beta_x_equity_x_shock']:,.0f}"
        corr = "" if r["correlated_pnl"] is None else f"{r['correlated_pnl']:,.0f}"
        print(f"| {r['scenario_id']} | {r['direct_pnl']:,.0f} | {corr} | {cmp} |")
    print(json.dumps({"benchmark": "stress_sanity", "portfolio": name, "run": summary.status,
                      "equity": table[0]["equity"] if table else None,
                      "market_beta": table[0]["beta"] if table else None,
                      "rows": table}, default=str), file=sys.stderr)


if __name__ == "__main__":
    main()
