"""The backends the tests run on."""

from __future__ import annotations

from _remote import REMOTES
from _servers import SERVERS

#: The SQL stores: SQLite in memory and in a file, PostgreSQL and MySQL/MariaDB.
BACKENDS = ["sqlite-memory", "sqlite-file", *SERVERS]
#: The backends of the contract suites (tests/store, tests/query): the SQL stores, and the remote
#: client talking to a real server on SQLite and on PostgreSQL.
CONTRACT_BACKENDS = [*BACKENDS, *REMOTES]
