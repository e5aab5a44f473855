-- Every portfolio with stored snapshots: its risk rows from its first session on.
insert into raw.risk_marks (portfolio_id, from_date)
select
    p.portfolio_id,
    min(pos.entry_date)
from raw.portfolios as p
inner join raw.positions as pos on pos.portfolio_id = p.portfolio_id
where exists (
        select 1 from pg_class as c
        inner join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = 'marts' and c.relname = 'fct_portfolio_risk'
    )
group by p.portfolio_id
