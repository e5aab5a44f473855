-- Betas written (from the temp table incoming_betas) for sessions the snapshot mart
-- already covers: mark each portfolio holding the symbol on those sessions, so its
-- exposures are rebuilt by the next dbt build.
insert into raw.restatements (portfolio_id, from_date, reason)
select
    pos.portfolio_id,
    min(w.as_of_date),
    'factor betas computed for existing sessions'
from (select distinct sym, as_of_date from incoming_betas) as w
inner join unnest(cast(:symbols as text[])) with ordinality as s (symbol, code) on s.code = w.sym
inner join raw.positions as pos
    on
    coalesce(pos.underlying_symbol, pos.symbol) = s.symbol
    and pos.entry_date <= w.as_of_date
    and w.as_of_date < coalesce(
        raw.effective_exit_date(pos.exit_date, pos.expiration), cast('infinity' as date)
    )
where w.as_of_date <= (
        select max(snap.snapshot_date) from marts.fct_portfolio_snapshots as snap
        where snap.portfolio_id = pos.portfolio_id
    )
group by pos.portfolio_id
