-- correlations_within_bounds
-- Every pairwise correlation of marts.fct_position_correlations (portfolios in scope,
-- as_of_date from `since` through as_of) is within [-1, 1] (1e-12 slack) with n_obs >= 30
-- (a correlation is defined only on at least 30 common sessions), and every
-- fct_portfolio_risk.avg_pairwise_correlation in scope is within [-1, 1] (1e-12 slack).
-- One row per (portfolio, problem), with the sessions affected and the first bad value.
with scope as not materialized (
    -- the alias is GX's contract (expectations/checks.py), not used here
    select * from {batch} as run_scope  -- noqa: AL05
),

portfolios as not materialized (
    -- read twice but inlined: a join to raw.portfolios by key, never a scan of a
    -- materialized list per pair row (PostgreSQL 18 once estimated the new session's
    -- pairs at one row and compared 123 k pairs with 1,000 portfolios each: 8 s)
    select portfolios.portfolio_id, portfolios.name
    from raw.portfolios as portfolios
    cross join scope
    where portfolios.active
        and (scope.portfolio_ids is null or portfolios.portfolio_id = any(scope.portfolio_ids))
),

pairs as (
    select correlations.*, portfolios.name as portfolio_name
    from marts.fct_position_correlations as correlations
    inner join portfolios on portfolios.portfolio_id = correlations.portfolio_id
    cross join scope
    where correlations.as_of_date <= scope.as_of
        and (scope.since is null or correlations.as_of_date >= scope.since)
),

problems as (
    select
        portfolio_id,
        portfolio_name,
        as_of_date as session_date,
        'correlation outside [-1, 1]' as problem,
        format('%s/%s %s', symbol_a, symbol_b, correlation) as bad_value
    from pairs
    where not (correlation >= -1 - 1e-12 and correlation <= 1 + 1e-12) or correlation is null
    union all
    select
        portfolio_id,
        portfolio_name,
        as_of_date as session_date,
        'n_obs < 30' as problem,
        format('%s/%s n_obs %s', symbol_a, symbol_b, n_obs) as bad_value
    from pairs
    where not (n_obs >= 30) or n_obs is null
    union all
    select
        risk.portfolio_id,
        portfolios.name as portfolio_name,
        risk.snapshot_date as session_date,
        'avg_pairwise_correlation outside [-1, 1]' as problem,
        cast(risk.avg_pairwise_correlation as text) as bad_value
    from marts.fct_portfolio_risk as risk
    inner join portfolios on portfolios.portfolio_id = risk.portfolio_id
    cross join scope
    where risk.snapshot_date <= scope.as_of
        and (scope.since is null or risk.snapshot_date >= scope.since)
        and risk.avg_pairwise_correlation is not null
        and not (
            risk.avg_pairwise_correlation >= -1 - 1e-12
            and risk.avg_pairwise_correlation <= 1 + 1e-12
        )
),

final as (
    select
        portfolio_id,
        portfolio_name,
        problem,
        count(*) as n,
        min(session_date) as first_date,
        max(session_date) as last_date,
        (array_agg(bad_value order by session_date, bad_value))[1] as first_value
    from problems
    group by portfolio_id, portfolio_name, problem
)

select
    final.*,
    format(
        'portfolio %s: %s on %s row(s) %s..%s (first: %s)',
        portfolio_name, problem, n, first_date, last_date, first_value
    ) as detail
from final
order by portfolio_name, problem
