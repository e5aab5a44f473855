with source as (
    select * from {{ source('raw', 'portfolios') }}
),

renamed as (
    select
        portfolio_id,
        name as portfolio_name,
        cast(initial_equity as double precision) as initial_equity,
        equity_source,
        active as is_active,
        created_at
    from source
)

select * from renamed
