"""raw schema: portfolios, positions, prices, symbol status, factor betas, runs, calendar.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table raw.trading_sessions (
            session_date date primary key,
            session_index integer not null unique
        );

        create table raw.portfolios (
            portfolio_id bigserial primary key,
            name text not null unique,
            initial_equity numeric(20, 6) not null check (initial_equity > 0),
            equity_source text not null check (equity_source in ('given', 'derived')),
            source_file text,
            active boolean not null default true,
            created_at timestamptz not null default now(),
            updated_at timestamptz not null default now()
        );

        create table raw.positions (
            position_id bigserial primary key,
            portfolio_id bigint not null references raw.portfolios on delete cascade,
            source_line integer,
            symbol text not null,
            underlying_symbol text,
            quantity numeric(24, 6) not null check (quantity <> 0),
            entry_price numeric(20, 6) not null check (entry_price > 0),
            entry_date date not null,
            exit_date date,
            exit_price numeric(20, 6),
            investment_class text not null,
            investment_subtype text,
            option_type text check (option_type in ('CALL', 'PUT')),
            strike numeric(20, 6),
            expiration date,
            multiplier integer not null default 1,
            created_at timestamptz not null default now(),
            unique (portfolio_id, symbol, entry_date),
            check (exit_date is null or exit_date > entry_date)
        );
        create index positions_symbol_idx on raw.positions (symbol);
        create index positions_underlying_idx on raw.positions (underlying_symbol);

        create table raw.prices (
            symbol text not null,
            price_date date not null,
            close double precision not null check (close > 0),
            adj_close double precision,
            source text not null,
            fetched_at timestamptz not null default now(),
            primary key (symbol, price_date)
        );

        create table raw.symbol_status (
            symbol text primary key,
            status text not null check (status in ('available', 'unavailable')),
            reason text,
            last_attempt_at timestamptz not null default now(),
            -- the session range already asked of the providers (so it costs no request again)
            covered_from date,
            covered_to date
        );

        create table raw.symbol_factor_betas (
            symbol text not null,
            as_of_date date not null,
            factor text not null,
            beta double precision,
            r_squared double precision,
            n_obs integer not null,
            computed_at timestamptz not null default now(),
            primary key (symbol, as_of_date, factor)
        );

        -- Rows here say: this portfolio's history changed from this date on
        -- (positions replaced, a price corrected); the next dbt build restates it.
        create table raw.restatements (
            restatement_id bigserial primary key,
            portfolio_id bigint not null references raw.portfolios on delete cascade,
            from_date date not null,
            reason text not null,
            marked_at timestamptz not null default clock_timestamp()
        );
        create index restatements_portfolio_idx on raw.restatements (portfolio_id);

        -- The scope of the dbt build in progress (written under the global dbt lock).
        create table raw.build_scope (
            as_of date not null,
            portfolio_ids bigint[]
        );

        create table raw.batch_runs (
            run_id text primary key,
            kind text not null,
            scope jsonb not null default '{}'::jsonb,
            as_of date,
            status text not null check (status in
                ('running', 'completed', 'completed_with_warnings', 'failed', 'crashed')),
            phase text,
            progress jsonb not null default '{}'::jsonb,
            started_at timestamptz not null default clock_timestamp(),
            heartbeat_at timestamptz not null default clock_timestamp(),
            finished_at timestamptz,
            error_summary text,
            stats jsonb not null default '{}'::jsonb,
            pid integer,
            hostname text
        );
        create index batch_runs_status_idx on raw.batch_runs (status);
        """
    )
