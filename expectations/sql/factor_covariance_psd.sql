-- factor_covariance_psd
-- The factor covariance of every session of the run (marts.fct_factor_covariances,
-- as_of_date from `since` through as_of on which a portfolio in scope has a snapshot)
-- is a complete 8 x 8 matrix (64 ordered pairs, the same 8 factors on both sides),
-- finite, symmetric (|S_ab - S_ba| <= 1e-12 relative) and positive semi-definite
-- (smallest eigenvalue >= -1e-12).
-- SQL cannot take eigenvalues, so this query only gathers the matrices, ALL sessions in
-- ONE row (GX fetches at most 200 rows, a backfill has more sessions): the check's
-- Python side (expectations/python_checks.py, numpy.linalg.eigvalsh over every session
-- at once) turns them into the offending rows, one per (session, problem), each naming
-- the portfolios in scope that use that session's covariance.
with scope as not materialized (
    -- the alias is GX's contract (expectations/checks.py), not used here
    select * from {batch} as run_scope  -- noqa: AL05
),

portfolios as (
    select portfolios.portfolio_id, portfolios.name
    from raw.portfolios as portfolios
    cross join scope
    where portfolios.active
        and (scope.portfolio_ids is null or portfolios.portfolio_id = any(scope.portfolio_ids))
),

sessions as (
    select
        snapshots.snapshot_date as as_of_date,
        count(*) as portfolio_count,
        array_to_string((array_agg(portfolios.name order by portfolios.name))[1:3], ', ')
            as some_portfolios
    from marts.fct_portfolio_snapshots as snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
    cross join scope
    where snapshots.snapshot_date <= scope.as_of
        and (scope.since is null or snapshots.snapshot_date >= scope.since)
    group by snapshots.snapshot_date
),

matrices as (
    select
        covariances.as_of_date,
        count(*) = 64
        and count(distinct covariances.factor_a) = 8
        and count(distinct covariances.factor_b) = 8
        and array_agg(distinct covariances.factor_a) = array_agg(distinct covariances.factor_b)
            as complete,
        -- row-major in the byte order of the factor names
        array_agg(covariances.covariance order by covariances.factor_a, covariances.factor_b)
            as entries,
        array_agg(distinct covariances.factor_a) as factors
    from marts.fct_factor_covariances as covariances
    inner join sessions on sessions.as_of_date = covariances.as_of_date
    group by covariances.as_of_date
),

final as (
    select
        count(*) as n,
        array_agg(matrices.as_of_date order by matrices.as_of_date) as as_of_dates,
        array_agg(matrices.complete order by matrices.as_of_date) as complete,
        array_agg(
            case
                when matrices.complete then matrices.entries
                else array_fill(cast('NaN' as double precision), array[64])
            end
            order by matrices.as_of_date
        ) as covariances,
        array_agg(
            case
                when matrices.complete then matrices.factors
                else array_fill(cast('' as text), array[8])
            end
            order by matrices.as_of_date
        ) as factors,
        array_agg(
            case
                when sessions.portfolio_count = 1 then 'portfolio ' || sessions.some_portfolios
                when sessions.portfolio_count <= 3 then 'portfolios ' || sessions.some_portfolios
                else format(
                        'portfolios %s and %s more',
                        sessions.some_portfolios, sessions.portfolio_count - 3
                    )
            end
            order by matrices.as_of_date
        ) as used_by
    from matrices
    inner join sessions on sessions.as_of_date = matrices.as_of_date
)

select
    final.*,
    format('%s factor covariance matrices gathered for the Python check', n) as detail
from final
