-- After a build through :a: marks it applied move past :a (so a chunked backfill
-- restates each session once).
update raw.restatements set from_date = :next
where
    marked_at <= :t
    and (cast(:ids as bigint[]) is null or portfolio_id = any(cast(:ids as bigint[])))
    and from_date <= :a
