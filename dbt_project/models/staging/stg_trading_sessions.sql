with source as (
    select * from {{ source('raw', 'trading_sessions') }}
),

renamed as (
    select
        session_date,
        session_index
    from source
)

select * from renamed
