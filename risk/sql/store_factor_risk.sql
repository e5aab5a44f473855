-- Replace the factor covariances and the stress scenarios' implied factor moves of
-- the COPY'd sessions (factor / scenario codes are 1-based positions in :factors /
-- :scenarios).
delete from raw.factor_covariances
where as_of_date in (select distinct i.as_of_date from incoming_factor_covariances as i);

insert into raw.factor_covariances (as_of_date, factor_a, factor_b, covariance, correlation)
select
    i.as_of_date,
    fa.factor,
    fb.factor,
    i.covariance,
    nullif(i.correlation, 'NaN')
from incoming_factor_covariances as i
inner join unnest(cast(:factors as text [])) with ordinality as fa (factor, code) on i.a = fa.code
inner join unnest(cast(:factors as text [])) with ordinality as fb (factor, code) on i.b = fb.code;

delete from raw.stress_factor_moves
where as_of_date in (select distinct i.as_of_date from incoming_stress_moves as i);

insert into raw.stress_factor_moves (as_of_date, scenario_id, factor, implied_move)
select
    i.as_of_date,
    sc.scenario_id,
    f.factor,
    nullif(i.implied_move, 'NaN')
from incoming_stress_moves as i
inner join unnest(cast(:scenarios as text [])) with ordinality as sc (scenario_id, code)
    on i.scenario = sc.code
inner join unnest(cast(:factors as text [])) with ordinality as f (factor, code) on i.factor = f.code
