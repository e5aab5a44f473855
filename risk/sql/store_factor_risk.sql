-- Replace the factor covariances and the stress scenarios' implied factor moves of
-- the COPY'd sessions (factor / scenario codes are 1-based positions in the factors /
-- and scenarios arrays).
delete from raw.factor_covariances
where as_of_date in (select distinct i.as_of_date from incoming_factor_covariances as i);

insert into raw.factor_covariances (as_of_date, factor_a, factor_b, covariance, correlation)
select
    i.as_of_date,
    fa.factor as factor_a,
    fb.factor as factor_b,
    i.covariance,
    nullif(i.correlation, 'NaN')
from incoming_factor_covariances as i
inner join unnest(cast(:factors as text[])) with ordinality as fa (factor, code) on fa.code = i.a
inner join unnest(cast(:factors as text[])) with ordinality as fb (factor, code) on fb.code = i.b;

delete from raw.stress_factor_moves
where as_of_date in (select distinct i.as_of_date from incoming_stress_moves as i);

insert into raw.stress_factor_moves (as_of_date, scenario_id, factor, implied_move)
select
    i.as_of_date,
    sc.scenario_id,
    f.factor,
    nullif(i.implied_move, 'NaN')
from incoming_stress_moves as i
inner join unnest(cast(:scenarios as text[])) with ordinality as sc (scenario_id, code)
    on sc.code = i.scenario
inner join unnest(cast(:factors as text[])) with ordinality as f (factor, code) on f.code = i.factor
