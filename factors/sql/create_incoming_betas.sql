create temp table incoming_betas (
    sym integer,
    as_of_date date,
    fac smallint,
    beta double precision,
    r_squared double precision,
    n_obs integer
) on commit drop
