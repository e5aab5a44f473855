-- A mark with no stored session left after it is fully applied.
delete from raw.restatements as r
where
    r.marked_at <= :t
    and (cast(:ids as bigint[]) is null or r.portfolio_id = any(cast(:ids as bigint[])))
    and not exists (
        select 1 from marts.fct_portfolio_snapshots as s
        where s.portfolio_id = r.portfolio_id and s.snapshot_date >= r.from_date
    )
