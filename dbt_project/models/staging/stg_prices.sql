with source as (
    select * from {{ source('raw', 'prices') }}
),

renamed as (
    select
        symbol,
        price_date,
        close,
        adj_close,
        source as price_provider,
        fetched_at
    from source
)

select * from renamed
