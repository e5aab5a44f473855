"""The core every layer may use: settings, database and embedded server, calendar,
advisory locks, fault points, COPY helper, SQL-file loader, dbt project vars."""
