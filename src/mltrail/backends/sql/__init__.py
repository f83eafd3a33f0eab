"""The SQL backend: schema, dialects, migrations and the transaction runner."""
