create temp table incoming_portfolio_risk (
    portfolio_id bigint,
    snapshot_date date,
    realized_vol_21d double precision,
    realized_vol_63d double precision,
    har_vol_1d double precision,
    har_vol_21d double precision,
    holdings_vol_63d double precision,
    var_95_1d double precision,
    cvar_95_1d double precision,
    avg_pairwise_correlation double precision,
    correlation_effective_positions double precision
) on commit drop;

create temp table incoming_position_risk (
    portfolio_id bigint,
    snapshot_date date,
    position_id bigint,
    realized_vol_63d double precision,
    risk_contribution double precision
) on commit drop;

create temp table incoming_factor_covariances (
    as_of_date date,
    a smallint,
    b smallint,
    covariance double precision,
    correlation double precision
) on commit drop;

create temp table incoming_stress_moves (
    as_of_date date,
    scenario smallint,
    factor smallint,
    implied_move double precision
) on commit drop
