-- every_open_position_has_position_risk
-- Every position open on a session of the run (raw.positions: entry_date <= d <
-- raw.effective_exit_date(exit_date, expiration), on every session the portfolio has a
-- snapshot, from `since` through as_of) has its row in marts.fct_position_risk. Read
-- from the raw positions, not from the risk models' own list of open positions, so a
-- position dropped there is caught.
-- One row per (portfolio, position), with the sessions affected.
with scope as not materialized (
    -- the alias is GX's contract (expectations/checks.py), not used here
    select * from {batch} as run_scope  -- noqa: AL05
),

portfolios as (
    select portfolios.portfolio_id, portfolios.name
    from raw.portfolios as portfolios
    cross join scope
    where portfolios.active
        and (scope.portfolio_ids is null or portfolios.portfolio_id = any(scope.portfolio_ids))
),

spans as materialized (
    select
        positions.portfolio_id,
        portfolios.name as portfolio_name,
        positions.position_id,
        positions.symbol,
        positions.entry_date,
        coalesce(
            raw.effective_exit_date(positions.exit_date, positions.expiration), 'infinity'::date
        ) as exit_date
    from raw.positions as positions
    inner join portfolios on portfolios.portfolio_id = positions.portfolio_id
),

missing as (
    select
        spans.portfolio_id,
        spans.portfolio_name,
        spans.position_id,
        spans.symbol,
        snapshots.snapshot_date
    from spans
    inner join marts.fct_portfolio_snapshots as snapshots
        on snapshots.portfolio_id = spans.portfolio_id
        and snapshots.snapshot_date >= spans.entry_date
        and snapshots.snapshot_date < spans.exit_date
    cross join scope
    where snapshots.snapshot_date <= scope.as_of
        and (scope.since is null or snapshots.snapshot_date >= scope.since)
        and not exists (
            select 1
            from marts.fct_position_risk as position_risk
            where position_risk.portfolio_id = spans.portfolio_id
                and position_risk.position_id = spans.position_id
                and position_risk.snapshot_date = snapshots.snapshot_date
        )
),

final as (
    select
        portfolio_id,
        portfolio_name,
        position_id,
        symbol,
        count(*) as n,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date
    from missing
    group by portfolio_id, portfolio_name, position_id, symbol
)

select
    final.*,
    format(
        'portfolio %s: %s (position %s) open but no fct_position_risk row on %s session(s) %s..%s',
        portfolio_name, symbol, position_id, n, first_date, last_date
    ) as detail
from final
order by portfolio_name, symbol, position_id
