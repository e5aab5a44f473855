-- Per portfolio in scope, the first session it still needs: no done snapshot.
-- Done = complete or final (is_final: incomplete only for closes the providers were
-- already asked for and did not have), a copy of dbt's session_is_done
-- (dbt_project/macros/done_sessions.sql): a final session is not a gap, so it is not
-- rebuilt, nor asked for again, until a restatement mark reaches it (plan.py adds
-- the marks). Its own copy of the work set's "done without a hole" aggregate: this
-- runs before dbt to pick the run's first chunk (the dbt model cannot be read yet).
with first_entries as (
    select portfolio_id, min(entry_date) as first_entry from raw.positions
    where portfolio_id = any(:ids)
    group by portfolio_id
),

bounds as (
    select
        first_entries.*,
        (
            select t.session_date from raw.trading_sessions as t
            where t.session_date >= first_entries.first_entry
            order by t.session_date limit 1
        ) as first_session
    from first_entries
),

done as (
    -- done snapshots per portfolio: one aggregate, not a probe per session
    select s.portfolio_id, count(*) as n, min(s.snapshot_date) as lo, max(s.snapshot_date) as hi
    from marts.fct_portfolio_snapshots as s
    inner join first_entries on first_entries.portfolio_id = s.portfolio_id
    where
        (s.is_complete or s.is_final)
        and s.snapshot_date >= first_entries.first_entry and s.snapshot_date <= :a
    group by s.portfolio_id
),

gaps as (
    select
        bounds.portfolio_id,
        case
            when done.portfolio_id is null then bounds.first_session
            -- done sessions without a hole from the first one: the gap is the next session
            when done.lo = bounds.first_session
                and (
                    select hi_session.session_index from raw.trading_sessions as hi_session
                    where hi_session.session_date = done.hi
                )
                - (
                    select lo_session.session_index from raw.trading_sessions as lo_session
                    where lo_session.session_date = done.lo
                )
                + 1 = done.n
                then (
                    select t.session_date from raw.trading_sessions as t
                    where t.session_date > done.hi
                    order by t.session_date limit 1
                )
            -- a hole: probe that portfolio's sessions one by one
            else (
                select min(t.session_date) from raw.trading_sessions as t
                where t.session_date >= bounds.first_entry and t.session_date <= :a
                    and not exists (
                        select 1 from marts.fct_portfolio_snapshots as s
                        where s.portfolio_id = bounds.portfolio_id
                            and s.snapshot_date = t.session_date
                            and (s.is_complete or s.is_final)
                    )
            )
        end as gap
    from bounds
    left join done on done.portfolio_id = bounds.portfolio_id
)

select portfolio_id, gap from gaps
where gap <= :a
