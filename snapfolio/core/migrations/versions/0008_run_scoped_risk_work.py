"""raw.risk_work keyed by build id: each risk phase's work set is its own rows.

Why: the table was one shared work set that the risk phase truncated and refilled
under the global dbt lock, so two risk phases (two shards) could only be safe by never
overlapping. Each risk phase now writes its rows under its own build id (the id of
its raw.build_scope row, which its dbt connections carry as `snapfolio.build_id`), its
SQL and the risk models (stg_risk_work) read only the rows of that id, and the rows are
deleted after the phase; rows whose build scope row is gone (a process that died
mid-phase: its scope row is dropped by the run reconciliation) are deleted with it
(flows/dbt_runner.drop_dead_build_scopes).

No foreign key to raw.build_scope: a backfill's work set is hundreds of thousands of
rows, and a per-row referential check on each insert would cost more than the insert.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        delete from raw.risk_work;
        alter table raw.risk_work
            drop constraint risk_work_pkey,
            add column build_id text not null,
            add primary key (build_id, portfolio_id, snapshot_date);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        delete from raw.risk_work;
        alter table raw.risk_work
            drop constraint risk_work_pkey,
            drop column build_id,
            add primary key (portfolio_id, snapshot_date);
        """
    )
