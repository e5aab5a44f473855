{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date'], 'unique': true},
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- One row per snapshot: the numbers numpy computes (risk phase: volatilities, HAR,
    holdings back-cast, VaR/CVaR, correlation summaries) joined with those SQL computes
    (drawdown, concentration, the worst stress scenario), as of each session with no
    look-ahead. NULL where a number is not defined. -#}

with work_sessions as not materialized (
    -- read twice: inlined, so the planner sees raw.risk_work's statistics and probes
    -- the stress results' and stats' indexes for the work sessions (a materialized CTE
    -- is a guess, which hash-joins their whole history)
    select * from {{ ref('stg_risk_work') }}
),

stats as (
    select * from {{ ref('stg_portfolio_risk_stats') }}
),

drawdowns as (
    select * from {{ ref('int_portfolio_drawdowns') }}
),

concentration as (
    select * from {{ ref('int_portfolio_concentration') }}
),

stress as (
    select * from {{ ref('fct_portfolio_stress_results') }}
),

worst_stress as (
    -- the lowest correlated P&L (direct where that is NULL); ties -> smallest id (bytes)
    select distinct on (stress.portfolio_id, stress.snapshot_date)
        stress.portfolio_id,
        stress.snapshot_date,
        stress.scenario_id as worst_stress_scenario,
        coalesce(stress.correlated_pnl, stress.direct_pnl) as worst_stress_pnl
    from stress
    inner join work_sessions
        on
        work_sessions.portfolio_id = stress.portfolio_id
        and work_sessions.snapshot_date = stress.snapshot_date
    order by
        stress.portfolio_id,
        stress.snapshot_date,
        coalesce(stress.correlated_pnl, stress.direct_pnl) asc,
        stress.scenario_id collate "C" asc  -- noqa: RF02
),

final as (
    select
        cast(work_sessions.portfolio_id as bigint) as portfolio_id,
        cast(work_sessions.snapshot_date as date) as snapshot_date,
        cast(stats.realized_vol_21d as double precision) as realized_vol_21d,
        cast(stats.realized_vol_63d as double precision) as realized_vol_63d,
        cast(stats.har_vol_1d as double precision) as har_vol_1d,
        cast(stats.har_vol_21d as double precision) as har_vol_21d,
        cast(stats.holdings_vol_63d as double precision) as holdings_vol_63d,
        cast(stats.var_95_1d as double precision) as var_95_1d,
        cast(stats.cvar_95_1d as double precision) as cvar_95_1d,
        cast(drawdowns.drawdown as double precision) as drawdown,
        cast(drawdowns.max_drawdown as double precision) as max_drawdown,
        cast(concentration.hhi as double precision) as hhi,
        cast(concentration.effective_num_positions as double precision)
            as effective_num_positions,
        cast(concentration.top_3_weight as double precision) as top_3_weight,
        cast(concentration.top_10_weight as double precision) as top_10_weight,
        cast(stats.avg_pairwise_correlation as double precision) as avg_pairwise_correlation,
        cast(stats.correlation_effective_positions as double precision)
            as correlation_effective_positions,
        cast(worst_stress.worst_stress_scenario as text) as worst_stress_scenario,
        cast(worst_stress.worst_stress_pnl as double precision) as worst_stress_pnl
    from work_sessions
    inner join stats
        on
        stats.portfolio_id = work_sessions.portfolio_id
        and stats.snapshot_date = work_sessions.snapshot_date
    left join drawdowns
        on
        drawdowns.portfolio_id = work_sessions.portfolio_id
        and drawdowns.snapshot_date = work_sessions.snapshot_date
    left join concentration
        on
        concentration.portfolio_id = work_sessions.portfolio_id
        and concentration.snapshot_date = work_sessions.snapshot_date
    left join worst_stress
        on
        worst_stress.portfolio_id = work_sessions.portfolio_id
        and worst_stress.snapshot_date = work_sessions.snapshot_date
)

select * from final
