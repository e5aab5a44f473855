-- Replace the factor covariances and the stress scenarios' implied factor moves of
-- the COPY'd sessions (factor / scenario codes are 1-based positions in the factors /
-- and scenarios arrays).
--
-- Keyed by session alone, not by portfolio: two risk phases running at once (two
-- shards, disjoint portfolios, the same sessions) write the same rows. So they are
-- upserted, never deleted and re-inserted (the second of two concurrent delete +
-- insert of one key would fail on the primary key), in key order (two writers of the
-- same sessions lock the rows in the same order: one waits for the other's commit,
-- never a deadlock); an unchanged row is left as it is. A pair a session no longer
-- has (its covariance undefined now) is deleted.
with incoming as (
    select
        i.as_of_date,
        fa.factor as factor_a,
        fb.factor as factor_b,
        i.covariance,
        nullif(i.correlation, 'NaN') as correlation
    from incoming_factor_covariances as i
    inner join unnest(cast(:factors as text[])) with ordinality as fa (factor, code) on fa.code = i.a
    inner join unnest(cast(:factors as text[])) with ordinality as fb (factor, code) on fb.code = i.b
),

removed as (
    delete from raw.factor_covariances as f
    where
        f.as_of_date in (select distinct incoming.as_of_date from incoming)
        and not exists (
            select 1 from incoming
            where
                incoming.as_of_date = f.as_of_date
                and incoming.factor_a = f.factor_a
                and incoming.factor_b = f.factor_b
        )
)

insert into raw.factor_covariances as f (as_of_date, factor_a, factor_b, covariance, correlation)
select
    incoming.as_of_date,
    incoming.factor_a,
    incoming.factor_b,
    incoming.covariance,
    incoming.correlation
from incoming
order by incoming.as_of_date, incoming.factor_a, incoming.factor_b
on conflict (as_of_date, factor_a, factor_b) do update
    set covariance = excluded.covariance, correlation = excluded.correlation
    where (f.covariance, f.correlation) is distinct from (excluded.covariance, excluded.correlation);

with incoming as (
    select
        i.as_of_date,
        sc.scenario_id,
        f.factor,
        nullif(i.implied_move, 'NaN') as implied_move
    from incoming_stress_moves as i
    inner join unnest(cast(:scenarios as text[])) with ordinality as sc (scenario_id, code)
        on sc.code = i.scenario
    inner join unnest(cast(:factors as text[])) with ordinality as f (factor, code)
        on f.code = i.factor
),

removed as (
    delete from raw.stress_factor_moves as m
    where
        m.as_of_date in (select distinct incoming.as_of_date from incoming)
        and not exists (
            select 1 from incoming
            where
                incoming.as_of_date = m.as_of_date
                and incoming.scenario_id = m.scenario_id
                and incoming.factor = m.factor
        )
)

insert into raw.stress_factor_moves as m (as_of_date, scenario_id, factor, implied_move)
select
    incoming.as_of_date,
    incoming.scenario_id,
    incoming.factor,
    incoming.implied_move
from incoming
order by incoming.as_of_date, incoming.scenario_id, incoming.factor
on conflict (as_of_date, scenario_id, factor) do update
    set implied_move = excluded.implied_move
    where m.implied_move is distinct from excluded.implied_move
