"""raw.effective_exit_date(exit_date, expiration): the one definition of when a
position stops being open.

Why: the rule "open until its exit date; an option with no exit closes on the first
session after its expiration" was written four times (dbt's int_positions, the factors
phase's held spans, the beta restatement marks — which ignored expiry — and the
accounting reference), so one copy could drift. Every SQL reader calls this function;
dbt models too (it lives in `raw`, next to the calendar it reads).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create function raw.effective_exit_date(exit_date date, expiration date)
        returns date
        language sql stable parallel safe
        as $$
            select coalesce(
                exit_date,
                (select min(s.session_date) from raw.trading_sessions as s
                 where s.session_date > expiration)
            )
        $$
        """
    )
    op.execute(
        "comment on function raw.effective_exit_date(date, date) is "
        "'First session a position is no longer open: its exit date, else for an option "
        "the first NYSE session after its expiration, else null (still open).'"
    )


def downgrade() -> None:
    op.execute("drop function raw.effective_exit_date(date, date)")
