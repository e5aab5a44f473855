"""raw.symbol_beta_coverage: per symbol, the session range whose betas are complete.

Why: the factors phase must find the (symbol, session) pairs still missing a beta.
Checking every held session against raw.symbol_factor_betas made a daily run read the
whole beta history (its cost grew with history, not with new work). With this mark it
looks only outside [covered_from, covered_through].

Invariant: every NYSE session in [covered_from, covered_through] holds a row in
raw.symbol_factor_betas for every factor of ``factors``. The factors phase widens the
range after it has written the rows (in the same transaction); statement-level triggers
shrink it whenever beta rows disappear (a price correction's invalidation, a manual
repair, a TRUNCATE), so a deleted beta is found and recomputed by the next run. A mark
that is too small only costs a few index lookups; it is never too large.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table raw.symbol_beta_coverage (
            symbol text primary key,
            covered_from date not null,
            covered_through date not null,
            factors text[] not null,  -- sorted factor names the range is complete for
            updated_at timestamptz not null default now(),
            check (covered_from <= covered_through)
        );

        -- Beta rows removed (deleted, or moved by an update): shrink each symbol's range
        -- to the part after the removed rows' hull (or before it, when the hull reaches
        -- the range's end); drop it when nothing is left. Conservative by design.
        create function raw.symbol_beta_coverage_removed() returns trigger
        language plpgsql as $fn$
        begin
            delete from raw.symbol_beta_coverage c
             using (select symbol, min(as_of_date) as lo, max(as_of_date) as hi
                    from gone group by symbol) as removed
             where removed.symbol = c.symbol
               and removed.lo <= c.covered_from
               and removed.hi >= c.covered_through;
            update raw.symbol_beta_coverage c
               set covered_through = case when removed.hi >= c.covered_through
                                          then removed.lo - 1 else c.covered_through end,
                   covered_from = case when removed.hi >= c.covered_through
                                       then c.covered_from else removed.hi + 1 end,
                   updated_at = now()
              from (select symbol, min(as_of_date) as lo, max(as_of_date) as hi
                    from gone group by symbol) as removed
             where removed.symbol = c.symbol
               and removed.lo <= c.covered_through
               and removed.hi >= c.covered_from;
            return null;
        end
        $fn$;

        create function raw.symbol_beta_coverage_truncated() returns trigger
        language plpgsql as $fn$
        begin
            delete from raw.symbol_beta_coverage;
            return null;
        end
        $fn$;

        create trigger symbol_beta_coverage_deleted
            after delete on raw.symbol_factor_betas
            referencing old table as gone
            for each statement execute function raw.symbol_beta_coverage_removed();
        create trigger symbol_beta_coverage_updated
            after update on raw.symbol_factor_betas
            referencing old table as gone
            for each statement execute function raw.symbol_beta_coverage_removed();
        create trigger symbol_beta_coverage_truncated
            after truncate on raw.symbol_factor_betas
            for each statement execute function raw.symbol_beta_coverage_truncated();
        """
    )
