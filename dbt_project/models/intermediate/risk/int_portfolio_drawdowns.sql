{{
    config(
        schema='marts_store',
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date'],
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date'], 'unique': true},
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- drawdown = equity(d) / max(equity over the snapshots <= d) - 1 (the initial equity is
    not a peak of its own); max_drawdown = the minimum drawdown so far; NULL while the
    peak <= 0. Kept across builds (incremental, one row per session built so far) with
    the running peak, so a build reads only its work sessions: the running peak and max
    drawdown are carried from the stored row of each portfolio's last snapshot before
    its first work session (max and min are exact, so the result equals a read of the
    whole history). The risk work set starts at every restated session (risk marks),
    so the carried row is never stale; when it is missing (first build, a full refresh,
    a row lost or never written) that portfolio is read over its whole history.
    Stored in marts_store, not in the build slot's intermediate schema: the carried row
    must be the one the last build of that portfolio wrote, whichever slot it ran in (a
    slot's own copy could predate a restatement built in another slot). Two risk builds
    of disjoint portfolios write disjoint rows. -#}

with work_sessions as not materialized (
    select * from {{ ref('stg_risk_work') }}
),

snapshots as not materialized (
    -- read twice (the session before the work set, the sessions read): inlined, so
    -- both probe the index instead of materializing the whole history
    select * from {{ ref('fct_portfolio_snapshots') }}
),

work_starts as (
    select
        portfolio_id,
        min(snapshot_date) as first_work_date,
        max(snapshot_date) as last_work_date
    from work_sessions
    group by portfolio_id
),

carried as (
    -- the stored running peak / max drawdown of the last snapshot before the work set
    select
        work_starts.portfolio_id,
        work_starts.first_work_date,
        work_starts.last_work_date,
        previous_snapshot.snapshot_date as previous_date,
        {% if is_incremental() -%}
        built.peak as carried_peak,
        built.max_drawdown as carried_max_drawdown
        {%- else -%}
        cast(null as double precision) as carried_peak,
        cast(null as double precision) as carried_max_drawdown
        {%- endif %}
    from work_starts
    left join lateral (
        select max(snapshots.snapshot_date) as snapshot_date
        from snapshots
        where
            snapshots.portfolio_id = work_starts.portfolio_id
            and snapshots.snapshot_date < work_starts.first_work_date
    ) as previous_snapshot on true
    {% if is_incremental() -%}
    left join {{ this }} as built
        on
        built.portfolio_id = work_starts.portfolio_id
        and built.snapshot_date = previous_snapshot.snapshot_date
    {%- endif %}
),

read_from as (
    -- the work sessions when there is nothing before them or the carry is stored; else
    -- the whole history (and nothing carried)
    select
        portfolio_id,
        last_work_date,
        case
            when previous_date is null or carried_peak is not null then first_work_date
            else cast('-infinity' as date)
        end as from_date,
        carried_peak,
        carried_max_drawdown
    from carried
),

history as (
    select
        snapshots.portfolio_id,
        snapshots.snapshot_date,
        snapshots.equity,
        read_from.carried_max_drawdown,
        -- greatest() ignores a NULL carry
        greatest(read_from.carried_peak, max(snapshots.equity) over running) as peak
    from read_from
    inner join snapshots
        on
        snapshots.portfolio_id = read_from.portfolio_id
        and snapshots.snapshot_date >= read_from.from_date
        and snapshots.snapshot_date <= read_from.last_work_date
    window running as (
        partition by snapshots.portfolio_id order by snapshots.snapshot_date
        rows between unbounded preceding and current row
    )
),

drawdowns as (
    select
        portfolio_id,
        snapshot_date,
        peak,
        carried_max_drawdown,
        case when peak > 0 then equity / peak - 1 end as drawdown
    from history
),

with_max as (
    select
        portfolio_id,
        snapshot_date,
        peak,
        drawdown,
        -- least() ignores NULLs, as min() does
        least(
            carried_max_drawdown,
            min(drawdown) over (
                partition by portfolio_id order by snapshot_date
                rows between unbounded preceding and current row
            )
        ) as max_drawdown
    from drawdowns
),

final as (
    -- kept for the work sessions only
    select
        with_max.portfolio_id,
        with_max.snapshot_date,
        with_max.drawdown,
        with_max.max_drawdown,
        with_max.peak
    from with_max
    inner join work_sessions
        on
        work_sessions.portfolio_id = with_max.portfolio_id
        and work_sessions.snapshot_date = with_max.snapshot_date
)

select * from final
