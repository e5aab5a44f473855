"""Run messages: what a run's phases logged (timestamp, phase, level, message), stored
with the run so `snapfolio status` shows them live and after the run, and
`status --json` carries them.

Written in bulk by flows.messages (a COPY per phase end and in the run's `finally`,
never a round trip per log line) and capped per run and audience (the newest kept);
`audience` is `user` (phase transitions, warnings, the outcome) or `debug` (the phases'
own log lines, shown by `status --debug`).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table raw.run_messages (
            run_id text not null references raw.batch_runs (run_id) on delete cascade,
            seq integer not null,
            logged_at timestamptz not null,
            phase text not null,
            level text not null,
            audience text not null check (audience in ('user', 'debug')),
            logger text not null,
            message text not null,
            primary key (run_id, seq)
        );
        """
    )


def downgrade() -> None:
    op.execute("drop table raw.run_messages")
