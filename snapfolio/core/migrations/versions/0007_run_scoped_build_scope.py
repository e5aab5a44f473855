"""raw.build_scope keyed by a build id: one row per dbt invocation in progress.

Why: the table held one shared row (the scope of "the" build), so two builds could only
be safe by never overlapping (the global dbt lock). Each invocation now writes its own
row under a fresh build_id, dbt's connections carry that id (the `snapfolio.build_id`
setting, see flows/dbt_runner.py) and stg_build_scope reads only the row of its own
connection's id; the row is deleted after the build, and rows left by a process that
died mid-build (pid/hostname gone, or older than a day) are dropped by the run
reconciliation.

Also: marts.fct_portfolio_snapshots gains is_final (a session incomplete only for closes
the providers were already asked for and did not have; DESIGN "Input limits"). A mart
built before it gets the column here (its incremental model fails on a schema change);
its rows get null, read as not final, so they are rebuilt once by the next run.

Revision ID: 0007
Revises: 0005 (the lead re-chains it after 0006 at merge)
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        delete from raw.build_scope;
        alter table raw.build_scope
            add column build_id text primary key,
            add column hostname text,
            add column pid integer,
            add column created_at timestamptz not null default clock_timestamp();
        do $$
        begin
            if to_regclass('marts.fct_portfolio_snapshots') is not null then
                alter table marts.fct_portfolio_snapshots add column if not exists is_final boolean;
            end if;
        end
        $$;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        delete from raw.build_scope;
        alter table raw.build_scope
            drop column build_id,
            drop column hostname,
            drop column pid,
            drop column created_at;
        """
    )
