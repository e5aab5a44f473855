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

with work_sessions as (
    select * from {{ ref('stg_risk_work') }}
),

snapshots as (
    select * from {{ ref('fct_portfolio_snapshots') }}
),

exposures as not materialized (
    -- read twice (direct, correlated): inlined, so each read probes the work sessions'
    -- rows instead of materializing the whole exposure history
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

direct as (
    select
        work_scenarios.portfolio_id,
        work_scenarios.snapshot_date,
        work_scenarios.scenario_id,
        sum(coalesce(exposures.dollar_exposure, 0) * active_shocks.applied_shock) as direct_pnl
    from work_scenarios
    inner join active_shocks on active_shocks.scenario_id = work_scenarios.scenario_id
    left join exposures
        on
        exposures.portfolio_id = work_scenarios.portfolio_id
        and exposures.snapshot_date = work_scenarios.snapshot_date
        and exposures.factor = active_shocks.factor
    group by work_scenarios.portfolio_id, work_scenarios.snapshot_date, work_scenarios.scenario_id
),

correlated as (
    select
        work_scenarios.portfolio_id,
        work_scenarios.snapshot_date,
        work_scenarios.scenario_id,
        case
            when count(moves.implied_move) = 8
                then sum(coalesce(exposures.dollar_exposure, 0) * moves.implied_move)
        end as correlated_pnl
    from work_scenarios
    inner join moves
        on
        moves.as_of_date = work_scenarios.snapshot_date
        and moves.scenario_id = work_scenarios.scenario_id
    left join exposures
        on
        exposures.portfolio_id = work_scenarios.portfolio_id
        and exposures.snapshot_date = work_scenarios.snapshot_date
        and exposures.factor = moves.factor
    group by work_scenarios.portfolio_id, work_scenarios.snapshot_date, work_scenarios.scenario_id
),

final as (
    select
        cast(direct.portfolio_id as bigint) as portfolio_id,
        cast(direct.snapshot_date as date) as snapshot_date,
        cast(direct.scenario_id as text) as scenario_id,
        cast(direct.direct_pnl as double precision) as direct_pnl,
        cast(correlated.correlated_pnl as double precision) as correlated_pnl,
        cast(
            case when snapshots.equity > 0 then direct.direct_pnl / snapshots.equity end
            as double precision
        ) as direct_return,
        cast(
            case when snapshots.equity > 0 then correlated.correlated_pnl / snapshots.equity end
            as double precision
        ) as correlated_return
    from direct
    inner join snapshots
        on
        snapshots.portfolio_id = direct.portfolio_id
        and snapshots.snapshot_date = direct.snapshot_date
    left join correlated
        on
        correlated.portfolio_id = direct.portfolio_id
        and correlated.snapshot_date = direct.snapshot_date
        and correlated.scenario_id = direct.scenario_id
)

select * from final
