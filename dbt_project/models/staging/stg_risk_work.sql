{#- The (portfolio, session) pairs the risk phase recomputed in this run (raw.risk_work,
    written under the dbt lock right before the risk build). -#}
select
    portfolio_id,
    snapshot_date
from {{ source('raw', 'risk_work') }}
