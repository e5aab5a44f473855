with source as (
    select * from {{ source('raw', 'restatements') }}
),

renamed as (
    select
        restatement_id,
        portfolio_id,
        from_date as restate_from_date,
        reason as restatement_reason,
        marked_at
    from source
)

select * from renamed
