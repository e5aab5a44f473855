{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}
{#- drawdown = equity(d) / max(equity over the snapshots <= d) - 1 (the initial equity is
    not a peak of its own); max_drawdown = the minimum drawdown so far; NULL while the
    peak <= 0. Read over each work portfolio's whole stored history (the peak can be
    anywhere before d), kept for the work sessions. -#}

with work_sessions as (
    select * from {{ ref('stg_risk_work') }}
),

snapshots as (
    select * from {{ ref('fct_portfolio_snapshots') }}
),

history as (
    select
        snapshots.portfolio_id,
        snapshots.snapshot_date,
        snapshots.equity,
        max(snapshots.equity) over running as peak
    from snapshots
    where snapshots.portfolio_id in (select work_sessions.portfolio_id from work_sessions)
    window running as (
        partition by snapshots.portfolio_id order by snapshots.snapshot_date
        rows between unbounded preceding and current row
    )
),

drawdowns as (
    select
        portfolio_id,
        snapshot_date,
        case when peak > 0 then equity / peak - 1 end as drawdown
    from history
),

with_max as (
    select
        portfolio_id,
        snapshot_date,
        drawdown,
        min(drawdown) over (
            partition by portfolio_id order by snapshot_date
            rows between unbounded preceding and current row
        ) as max_drawdown
    from drawdowns
),

final as (
    -- kept for the work sessions only (the windows read the whole history)
    select
        with_max.portfolio_id,
        with_max.snapshot_date,
        with_max.drawdown,
        with_max.max_drawdown
    from with_max
    inner join work_sessions
        on
        work_sessions.portfolio_id = with_max.portfolio_id
        and work_sessions.snapshot_date = with_max.snapshot_date
)

select * from final
