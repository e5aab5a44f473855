{{ config(materialized='ephemeral') }}
{#- One sector per symbol with a profile, in rising priority: the shipped seed, the
    provider, a manual load (`snapfolio symbols load`). `ETF` when the winning profile
    says is_etf; a symbol with no profile at all is `Unclassified` (where it is used). -#}

with seed_profiles as (
    select
        symbol,
        nullif(sector, '') as sector,
        cast(is_etf as boolean) as is_etf,
        0 as priority
    from {{ ref('symbol_profiles') }}
),

stored_profiles as (
    select
        symbol,
        sector,
        is_etf,
        case when profile_source = 'manual' then 2 else 1 end as priority
    from {{ ref('stg_symbol_profiles') }}
    -- an incomplete provider profile (no sector, not an ETF) never hides the seed's
    where sector is not null or is_etf or profile_source = 'manual'
),

ranked as (
    select
        symbol,
        sector,
        is_etf,
        row_number() over (partition by symbol order by priority desc) as rank_in_symbol
    from (
        select * from seed_profiles
        union all
        select * from stored_profiles
    ) as all_profiles
),

final as (
    select
        symbol,
        case
            when is_etf then 'ETF'
            else coalesce(sector, 'Unclassified')
        end as sector
    from ranked
    where rank_in_symbol = 1
)

select * from final
