"""SQLAlchemy 2 (async) adapters: SQLite by default, PostgreSQL for multi-instance deployments."""
