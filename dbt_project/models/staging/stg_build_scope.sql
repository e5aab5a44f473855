with source as (
    select * from {{ source('raw', 'build_scope') }}
),

renamed as (
    select
        as_of,
        portfolio_ids
    from source
)

select * from renamed
