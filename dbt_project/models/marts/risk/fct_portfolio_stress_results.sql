{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date', 'scenario_id'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date', 'scenario_id'], 'unique': true},
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- Every active scenario on every risk work session. E_k = the portfolio's dollar
    exposure to factor k on d (NULL -> 0); the applied shock s' is the seed's shock, for
    ir_beta the TLT return -D x (yield change), D = var tlt_duration_years.
    direct_pnl = sum over the shocked factors of E_k s'_k; correlated_pnl = sum over the
    8 base factors of E_k m_k with m the scenario's implied moves on d (risk phase: s'
    on the shocked factors, the within-block conditional move on the unshocked ones,
    0 elsewhere); NULL when d's factor covariance is undefined. -#}

with work_sessions as not materialized (
    -- read three times: inlined, so each read sees raw.risk_work's statistics
    select * from {{ ref('stg_risk_work') }}
),

snapshots as (
    select * from {{ ref('fct_portfolio_snapshots') }}
),

exposures as (
    select * from {{ ref('fct_portfolio_factor_exposures') }}
),

scenarios as (
    select * from {{ ref('stress_scenarios') }}
),

moves as (
    select * from {{ ref('stg_stress_factor_moves') }}
),

active_shocks as (
    select
        scenario_id,
        factor,
        case
            when factor = 'ir_beta' then -{{ var('tlt_duration_years') }} * shock
            else shock
        end as applied_shock
    from scenarios
    where active
),

active_scenarios as (
    select distinct scenario_id from active_shocks
),

work_scenarios as (
    select
        work_sessions.portfolio_id,
        work_sessions.snapshot_date,
        active_scenarios.scenario_id
    from work_sessions
    cross join active_scenarios
),

work_exposures as (
    -- each work session's factor exposures, read once (not once per scenario and
    -- factor); a factor with no row contributes 0 to every sum below
    select
        work_sessions.portfolio_id,
        work_sessions.snapshot_date,
        exposures.factor,
        coalesce(exposures.dollar_exposure, 0) as dollar_exposure
    from work_sessions
    inner join exposures
        on
        exposures.portfolio_id = work_sessions.portfolio_id
        and exposures.snapshot_date = work_sessions.snapshot_date
),

direct_sums as (
    select
        work_exposures.portfolio_id,
        work_exposures.snapshot_date,
        active_shocks.scenario_id,
        sum(work_exposures.dollar_exposure * active_shocks.applied_shock) as direct_pnl
    from work_exposures
    inner join active_shocks on active_shocks.factor = work_exposures.factor
    group by work_exposures.portfolio_id, work_exposures.snapshot_date, active_shocks.scenario_id
),

move_counts as (
    -- the implied moves defined on each session (8 = d's covariance is defined)
    select
        moves.as_of_date,
        moves.scenario_id,
        count(moves.implied_move) as defined_moves
    from moves
    where moves.as_of_date in (select work_sessions.snapshot_date from work_sessions)
    group by moves.as_of_date, moves.scenario_id
),

correlated_sums as (
    select
        work_exposures.portfolio_id,
        work_exposures.snapshot_date,
        moves.scenario_id,
        sum(work_exposures.dollar_exposure * moves.implied_move) as correlated_pnl
    from work_exposures
    inner join moves
        on
        moves.as_of_date = work_exposures.snapshot_date
        and moves.factor = work_exposures.factor
    group by work_exposures.portfolio_id, work_exposures.snapshot_date, moves.scenario_id
),

results as (
    -- one row per work session and active scenario, every sum joined to it once (not
    -- a join of two per-scenario sets to each other, whose misestimated sizes once
    -- made PostgreSQL 18 compare every pair: 7 s for one daily session)
    select
        work_scenarios.portfolio_id,
        work_scenarios.snapshot_date,
        work_scenarios.scenario_id,
        coalesce(direct_sums.direct_pnl, 0) as direct_pnl,
        case
            when move_counts.defined_moves = 8 then coalesce(correlated_sums.correlated_pnl, 0)
        end as correlated_pnl
    from work_scenarios
    left join direct_sums
        on
        direct_sums.portfolio_id = work_scenarios.portfolio_id
        and direct_sums.snapshot_date = work_scenarios.snapshot_date
        and direct_sums.scenario_id = work_scenarios.scenario_id
    left join move_counts
        on
        move_counts.as_of_date = work_scenarios.snapshot_date
        and move_counts.scenario_id = work_scenarios.scenario_id
    left join correlated_sums
        on
        correlated_sums.portfolio_id = work_scenarios.portfolio_id
        and correlated_sums.snapshot_date = work_scenarios.snapshot_date
        and correlated_sums.scenario_id = work_scenarios.scenario_id
),

final as (
    select
        cast(results.portfolio_id as bigint) as portfolio_id,
        cast(results.snapshot_date as date) as snapshot_date,
        cast(results.scenario_id as text) as scenario_id,
        cast(results.direct_pnl as double precision) as direct_pnl,
        cast(results.correlated_pnl as double precision) as correlated_pnl,
        cast(
            case when snapshots.equity > 0 then results.direct_pnl / snapshots.equity end
            as double precision
        ) as direct_return,
        cast(
            case when snapshots.equity > 0 then results.correlated_pnl / snapshots.equity end
            as double precision
        ) as correlated_return
    from results
    inner join snapshots
        on
        snapshots.portfolio_id = results.portfolio_id
        and snapshots.snapshot_date = results.snapshot_date
)

select * from final
