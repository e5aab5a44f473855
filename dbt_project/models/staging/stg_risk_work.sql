{#- The (portfolio, session) pairs this risk build recomputes: its own rows of
    raw.risk_work, which holds one set of rows per risk phase in progress, keyed by
    build_id (the phase's raw.build_scope id, which every connection of its dbt build
    carries as the setting snapfolio.build_id; flows/dbt_runner.py). As stg_build_scope:
    the view bakes in no id, each reader's session picks its own rows, so two risk
    builds (shards) never read each other's work; outside a build the setting is unset
    and a read fails loudly. A plain select, so PostgreSQL inlines the view and the
    callers' joins use raw.risk_work's primary key (build_id, portfolio_id, snapshot_date). -#}
select
    portfolio_id,
    snapshot_date
from {{ source('raw', 'risk_work') }}
where build_id = current_setting('snapfolio.build_id')
