with source as (
    select * from {{ source('raw', 'symbol_factor_betas') }}
),

renamed as (
    select
        symbol,
        as_of_date,
        factor,
        beta,
        r_squared,
        n_obs,
        computed_at
    from source
)

select * from renamed
