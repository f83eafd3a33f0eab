"""``python -m mltrail.backends.sql.migrations``: write the SQLite schema template
(``sqlite_template.json``) from the migrations, after a change to them or to the schema."""

from mltrail.backends.sql.migrations import TEMPLATE_FILE, write_sqlite_template

write_sqlite_template()
print(f"wrote {TEMPLATE_FILE}")
