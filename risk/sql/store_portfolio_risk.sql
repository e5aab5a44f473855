-- Replace the risk stats of the work sessions (this risk phase's rows of raw.risk_work,
-- the build id) with the COPY'd ones (NaN -> NULL).
-- The deletes probe the primary keys once per work session: PostgreSQL misjudges the
-- rows per (portfolio, session) of the position table (~170 instead of ~16) and would
-- otherwise hash-join a scan of the whole stored history (6 M rows on a two-year
-- 1,000-portfolio book: 0.75 s of every daily run, growing with history). The planner
-- settings are restored after them (the rest of the caller's transaction plans freely).
set local enable_hashjoin = off;
set local enable_mergejoin = off;

delete from raw.portfolio_risk_stats as r
using raw.risk_work as w
where
    w.build_id = :build_id
    and r.portfolio_id = w.portfolio_id and r.snapshot_date = w.snapshot_date;

insert into raw.portfolio_risk_stats (
    portfolio_id, snapshot_date, realized_vol_21d, realized_vol_63d, har_vol_1d,
    har_vol_21d, holdings_vol_63d, var_95_1d, cvar_95_1d, avg_pairwise_correlation,
    correlation_effective_positions
)
select
    portfolio_id,
    snapshot_date,
    nullif(realized_vol_21d, 'NaN'),
    nullif(realized_vol_63d, 'NaN'),
    nullif(har_vol_1d, 'NaN'),
    nullif(har_vol_21d, 'NaN'),
    nullif(holdings_vol_63d, 'NaN'),
    nullif(var_95_1d, 'NaN'),
    nullif(cvar_95_1d, 'NaN'),
    nullif(avg_pairwise_correlation, 'NaN'),
    nullif(correlation_effective_positions, 'NaN')
from incoming_portfolio_risk;

delete from raw.position_risk_stats as r
using raw.risk_work as w
where
    w.build_id = :build_id
    and r.portfolio_id = w.portfolio_id and r.snapshot_date = w.snapshot_date;

set local enable_hashjoin to default;
set local enable_mergejoin to default;

insert into raw.position_risk_stats (
    portfolio_id, snapshot_date, position_id, realized_vol_63d, risk_contribution
)
select
    portfolio_id,
    snapshot_date,
    position_id,
    nullif(realized_vol_63d, 'NaN'),
    nullif(risk_contribution, 'NaN')
from incoming_position_risk
