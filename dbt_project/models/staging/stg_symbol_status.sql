with source as (
    select * from {{ source('raw', 'symbol_status') }}
),

renamed as (
    select
        symbol,
        status as symbol_status,
        reason as status_reason,
        last_attempt_at
    from source
)

select * from renamed
