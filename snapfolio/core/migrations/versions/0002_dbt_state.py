"""raw.dbt_state: fingerprint of the dbt project last fully built (views, seeds).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table raw.dbt_state (
            singleton boolean primary key default true check (singleton),
            project_fingerprint text not null,
            built_at timestamptz not null default now()
        );
        """
    )
