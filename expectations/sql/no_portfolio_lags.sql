-- no_portfolio_lags
-- Every active portfolio in scope has a complete snapshot for every session from its
-- first entry through the last session <= as_of. Read live from the snapshots, the
-- calendar and the positions (never from a stored watermark), so a portfolio left
-- behind while others moved on is caught.
-- From the run's `since` on when it is given (earlier sessions were checked by the runs
-- that wrote them, and a gap there would have made `since` earlier: the run's work set
-- is every gap), else from the first entry; `snapfolio check` reads the whole history.
-- One row per laggard: its name, last complete session and how far behind it is.
-- "Done" is written out here on purpose, not shared with dbt (dbt_project/macros/
-- done_sessions.sql: session_is_done, the watermark's and the work set's definition):
-- the gate keeps its own copy so that a bug in the code it checks cannot hide from it.
-- Keep the two in step when the rule changes. Done = a snapshot with is_complete, or a
-- final one (DESIGN "Input limits"), which the gate re-derives instead of trusting the
-- mart's is_final: every open position valued at its entry price for lack of a close
-- (an available symbol) has that session inside its symbol's range already asked of
-- the providers (raw.symbol_status covered_from..covered_to), and no close stored for
-- it on the session (one that arrived must have been restated and rebuilt).
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

first_entries as (
    select portfolio_id, min(entry_date) as first_entry_date
    from raw.positions
    group by portfolio_id
),

expected as (
    select
        portfolios.portfolio_id,
        portfolios.name,
        first_entries.first_entry_date,
        (
            select max(sessions.session_date)
            from raw.trading_sessions as sessions
            where sessions.session_date <= scope.as_of
        ) as expected_date
    from portfolios
    inner join first_entries on first_entries.portfolio_id = portfolios.portfolio_id
    cross join scope
),

not_complete as (
    -- expected sessions with no snapshot, or only an incomplete one that is not final
    select expected.portfolio_id, sessions.session_date
    from expected
    cross join scope
    inner join raw.trading_sessions as sessions
        on sessions.session_date >= greatest(expected.first_entry_date, scope.since)
        and sessions.session_date <= expected.expected_date
    left join marts.fct_portfolio_snapshots as snapshots
        on snapshots.portfolio_id = expected.portfolio_id
        and snapshots.snapshot_date = sessions.session_date
    where
        not coalesce(snapshots.is_complete, false)
        and (
            snapshots.portfolio_id is null
            or exists (
                -- a missing close the providers were not asked for, or that arrived
                select 1
                from marts.fct_position_values as position_values
                left join raw.symbol_status as symbol_status
                    on symbol_status.symbol = position_values.symbol
                where
                    position_values.portfolio_id = snapshots.portfolio_id
                    and position_values.snapshot_date = snapshots.snapshot_date
                    and position_values.is_open
                    and position_values.price_source = 'entry'
                    and coalesce(symbol_status.status, 'available') = 'available'
                    and (
                        not coalesce(
                            position_values.snapshot_date
                            between symbol_status.covered_from and symbol_status.covered_to,
                            false
                        )
                        or exists (
                            select 1 from raw.prices as prices
                            where
                                prices.symbol = position_values.symbol
                                and prices.price_date = position_values.snapshot_date
                        )
                    )
            )
        )
),

laggards as (
    select portfolio_id, min(session_date) as first_gap_date, count(*) as missing_sessions
    from not_complete
    group by portfolio_id
),

final as (
    select
        expected.portfolio_id,
        expected.name as portfolio_name,
        (
            select max(sessions.session_date)
            from raw.trading_sessions as sessions
            where sessions.session_date < laggards.first_gap_date
                and sessions.session_date >= expected.first_entry_date
        ) as last_complete_date,
        laggards.first_gap_date,
        expected.expected_date,
        laggards.missing_sessions as n
    from expected
    inner join laggards on laggards.portfolio_id = expected.portfolio_id
)

select
    final.*,
    format(
        'portfolio %s: last complete snapshot %s, expected %s (%s session(s) missing or incomplete from %s)',
        portfolio_name, coalesce(cast(last_complete_date as text), 'never'), expected_date,
        n, first_gap_date
    ) as detail
from final
order by portfolio_name
