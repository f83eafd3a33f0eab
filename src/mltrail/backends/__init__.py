"""Storage backends: SQL databases (SQLite, PostgreSQL, MySQL/MariaDB)."""
