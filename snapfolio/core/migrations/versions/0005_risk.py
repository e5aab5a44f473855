"""Risk analytics inputs written by Python: symbol profiles (sectors) and the results of
the vectorized risk computations (risk/), read by the dbt risk marts.

Why raw tables: the HAR fits, back-casts, correlations and factor covariances are numpy
over all portfolios and sessions of a run at once; they are written in bulk (COPY) and
dbt builds the contract marts from them together with what SQL does well (drawdown,
concentration, sectors, stress P&L). `raw.risk_marks` records, per portfolio, from
which session the risk rows must be recomputed (written before the accounting build,
cleared after the risk phase), so a crash between the two loses nothing.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table raw.symbol_profiles (
            symbol text primary key,
            name text,
            sector text,
            industry text,
            is_etf boolean not null default false,
            source text not null,
            updated_at timestamptz not null default now()
        );
        create table raw.symbol_profile_attempts (
            symbol text primary key,
            reason text,
            attempted_at timestamptz not null default now()
        );
        create table raw.risk_marks (
            portfolio_id bigint not null,
            from_date date not null,
            marked_at timestamptz not null default clock_timestamp()
        );
        create index risk_marks_portfolio_idx on raw.risk_marks (portfolio_id);
        create table raw.portfolio_risk_stats (
            portfolio_id bigint not null,
            snapshot_date date not null,
            realized_vol_21d double precision,
            realized_vol_63d double precision,
            har_vol_1d double precision,
            har_vol_21d double precision,
            holdings_vol_63d double precision,
            var_95_1d double precision,
            cvar_95_1d double precision,
            avg_pairwise_correlation double precision,
            correlation_effective_positions double precision,
            computed_at timestamptz not null default now(),
            primary key (portfolio_id, snapshot_date)
        );
        create table raw.position_risk_stats (
            portfolio_id bigint not null,
            snapshot_date date not null,
            position_id bigint not null,
            realized_vol_63d double precision,
            risk_contribution double precision,
            primary key (portfolio_id, snapshot_date, position_id)
        );
        create table raw.factor_covariances (
            as_of_date date not null,
            factor_a text not null,
            factor_b text not null,
            covariance double precision not null,
            correlation double precision,
            primary key (as_of_date, factor_a, factor_b)
        );
        create table raw.stress_factor_moves (
            as_of_date date not null,
            scenario_id text not null,
            factor text not null,
            implied_move double precision,
            primary key (as_of_date, scenario_id, factor)
        );
        create table raw.position_correlations (
            portfolio_id bigint not null,
            as_of_date date not null,
            symbol_a text not null,
            symbol_b text not null,
            correlation double precision not null,
            n_obs integer not null,
            primary key (portfolio_id, symbol_a, symbol_b)
        );
        create table raw.risk_work (
            portfolio_id bigint not null,
            snapshot_date date not null,
            primary key (portfolio_id, snapshot_date)
        );
        """
    )


def downgrade() -> None:
    op.execute(
        "drop table raw.risk_work, raw.position_correlations, raw.stress_factor_moves, "
        "raw.factor_covariances, raw.position_risk_stats, raw.portfolio_risk_stats, "
        "raw.risk_marks, raw.symbol_profile_attempts, raw.symbol_profiles"
    )
