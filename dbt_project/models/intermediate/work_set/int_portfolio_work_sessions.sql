{{ config(post_hook=["analyze {{ this }}"]) }}
{#- The (portfolio, session) pairs this build must (re)compute, per portfolio, never
    from a global max(date): sessions from the portfolio's first entry to as_of that
    are not built (macros/done_sessions.sql: session_is_built, a complete or final
    snapshot with every exposure row; a final session is not rebuilt until a
    restatement mark reaches it), plus everything from a restatement mark on. Until the
    exposure mart exists, every session is work.

    The marts are read as they are now through the `marts` source, not ref(): they are
    built from this model, so a ref would be a cycle. A source keeps the read visible
    in the lineage and lets a unit test give the marts' rows (override existing_mart to
    take the "marts built" branch). -#}
{%- set marts_built = existing_mart('fct_portfolio_snapshots')
    and existing_mart('fct_position_factor_exposures') -%}
{%- set counts_kept = existing_mart('fct_position_factor_exposures_counts') -%}
{#- every source() call at the top, outside the branches, so dbt records each one -#}
{%- set live_snapshots_relation = source('marts', 'fct_portfolio_snapshots') -%}
{%- set live_exposures_relation = source('marts', 'fct_position_factor_exposures') -%}
{%- set live_counts_relation = source('marts', 'fct_position_factor_exposures_counts') -%}

with portfolios as (
    select * from {{ ref('stg_portfolios') }}
),

positions as (
    select * from {{ ref('stg_positions') }}
),

sessions as not materialized (
    -- inlined where used: each portfolio's range is an index range scan of the
    -- calendar instead of a filter over every (portfolio, calendar session) pair
    select * from {{ ref('stg_trading_sessions') }}
),

restatements as (
    select * from {{ ref('stg_restatements') }}
),

factor_definitions as (
    select * from {{ ref('factor_definitions') }}
),

portfolios_in_scope as (
    select portfolio_id
    from portfolios
    where is_active and {{ portfolio_in_scope('portfolio_id') }}
),

first_entries as (
    select portfolio_id, min(entry_date) as first_entry_date
    from positions
    group by portfolio_id
),

restate_from as (
    select portfolio_id, min(restate_from_date) as restate_from_date
    from restatements
    group by portfolio_id
),

{% if marts_built %}

{#- Self-healing, read from the marts as they are now: a session is work when it has no
    snapshot, an incomplete one that is not final, or fewer exposure rows than
    position_count × factors.
    The exposure rows are counted by marts.fct_position_factor_exposures_counts, which
    triggers on the exposure mart keep equal to its live per-(portfolio, session) row
    count in the writer's own transaction (macros/exposure_counts.sql), so this is one
    row per (portfolio, session) (~0.1 s per 100k sessions) instead of a re-count of
    every exposure row of the portfolios in scope (12 per open position and session).
    A mart built before the counts existed falls back to that re-count once. -#}

live_snapshots as not materialized (
    select * from {{ live_snapshots_relation }}
),

exposure_counts as not materialized (
    {%- if counts_kept %}
    -- no scope filter of its own: every read joins it on (portfolio, session) to rows
    -- already in scope, one primary-key probe each (a semi-join to the scope here was
    -- planned as a scan of the scope per counts row: 8 s at 1,000 portfolios)
    select portfolio_id, snapshot_date, exposure_rows
    from {{ live_counts_relation }}
    {%- else %}
    select exposures.portfolio_id, exposures.snapshot_date, count(*) as exposure_rows
    from {{ live_exposures_relation }} as exposures
    where exposures.portfolio_id in (select portfolios_in_scope.portfolio_id from portfolios_in_scope)
    group by exposures.portfolio_id, exposures.snapshot_date
    {%- endif %}
),
{% endif %}

{% if not marts_built %}

work as (
    -- no marts yet: every session from the first entry through as_of
    select scope.portfolio_id, sessions.session_date, sessions.session_index
    from portfolios_in_scope as scope
    inner join first_entries on first_entries.portfolio_id = scope.portfolio_id
    inner join sessions
        on sessions.session_date >= first_entries.first_entry_date
       and sessions.session_date <= {{ as_of_date() }}
),
{% else %}

factor_count as (
    select count(*) as n_factors from factor_definitions
),

session_bounds as (
    -- each portfolio's first session (>= first entry) and last one (<= as_of)
    select
        scope.portfolio_id,
        first_entries.first_entry_date,
        -- ordered by date (the calendar's primary key): one index probe each
        (
            select s.session_index from sessions as s
            where s.session_date >= first_entries.first_entry_date
            order by s.session_date limit 1
        ) as first_index,
        (
            select s.session_index from sessions as s
            where s.session_date <= {{ as_of_date() }}
            order by s.session_date desc limit 1
        ) as last_index,
        (
            select s.session_index from sessions as s
            where s.session_date >= restate_from.restate_from_date
            order by s.session_date limit 1
        ) as restate_index
    from portfolios_in_scope as scope
    inner join first_entries on first_entries.portfolio_id = scope.portfolio_id
    left join restate_from on restate_from.portfolio_id = scope.portfolio_id
),

done_sessions as (
    -- per portfolio, its built sessions (session_is_built: a complete or final snapshot
    -- with every exposure row). One streaming aggregate, not one row per (portfolio, session).
    select
        done.portfolio_id,
        count(*) as n_done,
        min(done.snapshot_date) as first_done_date,
        max(done.snapshot_date) as last_done_date
    from live_snapshots as done
    inner join session_bounds on session_bounds.portfolio_id = done.portfolio_id
    cross join factor_count
    left join exposure_counts
        on exposure_counts.portfolio_id = done.portfolio_id
        and exposure_counts.snapshot_date = done.snapshot_date
    where done.snapshot_date >= session_bounds.first_entry_date
        and done.snapshot_date <= {{ as_of_date() }}
        and {{ session_is_built('done', 'exposure_counts.exposure_rows', 'factor_count.n_factors') }}
    group by done.portfolio_id
),

done_prefix as (
    -- done_through_index: the portfolio's done sessions are exactly its sessions
    -- first_index .. done_through_index (no hole), so its work is what follows
    -- (first_index - 1 when nothing is done); null when they have holes, then every
    -- session is checked one by one below
    select
        session_bounds.*,
        case
            when done_sessions.portfolio_id is null then session_bounds.first_index - 1
            when first_done.session_index = session_bounds.first_index
                and last_done.session_index - first_done.session_index + 1 = done_sessions.n_done
                then last_done.session_index
        end as done_through_index
    from session_bounds
    left join done_sessions on done_sessions.portfolio_id = session_bounds.portfolio_id
    left join sessions as first_done on first_done.session_date = done_sessions.first_done_date
    left join sessions as last_done on last_done.session_date = done_sessions.last_done_date
),

contiguous_work as (
    -- the sessions after the done run, and everything from a restatement mark on
    select done_prefix.portfolio_id, sessions.session_date, sessions.session_index
    from done_prefix
    inner join sessions
        on sessions.session_index >= greatest(
            least(done_prefix.done_through_index + 1, done_prefix.restate_index),
            done_prefix.first_index
        )
        and sessions.session_index <= done_prefix.last_index
    where done_prefix.done_through_index is not null
),

holed_work as (
    -- a portfolio with holes in its done sessions: each of its sessions is checked
    select done_prefix.portfolio_id, sessions.session_date, sessions.session_index
    from done_prefix
    inner join sessions
        on sessions.session_index >= done_prefix.first_index
        and sessions.session_index <= done_prefix.last_index
    left join live_snapshots as done
        on done.portfolio_id = done_prefix.portfolio_id
        and done.snapshot_date = sessions.session_date
    left join exposure_counts
        on exposure_counts.portfolio_id = done_prefix.portfolio_id
        and exposure_counts.snapshot_date = sessions.session_date
    cross join factor_count
    where done_prefix.done_through_index is null
        and (
            sessions.session_index >= coalesce(done_prefix.restate_index, 2147483647)
            or not {{ session_is_built('done', 'exposure_counts.exposure_rows', 'factor_count.n_factors') }}
        )
),

work as (
    select * from contiguous_work
    union all
    select * from holed_work
),
{% endif %}

final as (
    select
        work.portfolio_id,
        work.session_date as snapshot_date,
        work.session_index,
        previous.session_date as previous_session_date,
        work.session_index - 1 as previous_session_index
    from work
    left join sessions as previous on previous.session_index = work.session_index - 1
)

select * from final
