"""The test database is real PostgreSQL with the migrated raw schema and NYSE calendar."""

from datetime import date

from snapfolio.core import calendar


def test_raw_schema_and_calendar(db):
    assert db.scalar("select count(*) from raw.portfolios") == 0
    sessions = [r["session_date"] for r in db.rows(
        "select session_date from raw.trading_sessions "
        "where session_date between '2025-01-01' and '2025-01-31' order by 1")]
    assert sessions == calendar.sessions_between(date(2025, 1, 1), date(2025, 1, 31))
    assert date(2025, 1, 9) not in sessions  # national day of mourning: market closed
