"""Count the requests a store sends to its database, as the driver sends them.

* SQLite: every statement SQLite runs (its trace callback), BEGIN and COMMIT included.
* PostgreSQL (psycopg): every request that waits for the server's answer, read from libpq's
  protocol trace: a simple ``Query`` or a ``Sync`` that ends an extended-protocol exchange or
  a pipeline. A pipeline of many statements is one request.
* MySQL/MariaDB: every command PyMySQL sends (a query, a ping, a COMMIT); with mysqlclient,
  every query, commit, rollback and ping it is asked to send.

Tracing starts on a connection when the pool hands it out while the counter is open.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from mltrail import MetadataStore


class RoundTrips:
    def __init__(self) -> None:
        self.statements: list[str] = []  # what was sent, as far as the backend tells it
        self._trace_files: list[Any] = []

    def reset(self) -> None:
        self.statements.clear()
        for file in self._trace_files:
            file.flush()
            os.ftruncate(file.fileno(), 0)
            file.seek(0)

    @property
    def count(self) -> int:
        return len(self.sent())

    def sent(self) -> list[str]:
        for file in self._trace_files:
            file.flush()
            with open(file.name, encoding="utf-8", errors="replace") as lines:
                last = ""  # the latest statement parsed or bound, to name a Sync by
                for line in lines:
                    fields = [f.strip() for f in line.split("\t")]
                    if len(fields) < 4 or fields[1] != "F":
                        continue  # the server's messages, or a statement's next line
                    message, rest = fields[3], (fields[4] if len(fields) > 4 else "")
                    if message in ("Parse", "Bind"):
                        last = rest
                    elif message == "Query":
                        self.statements.append(rest)
                    elif message == "Sync":
                        self.statements.append(f"Sync after {last}")
            os.ftruncate(file.fileno(), 0)
            file.seek(0)
        return list(self.statements)


@contextlib.contextmanager
def counting(store: MetadataStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    """A counter of the requests ``store`` sends while the block runs."""
    trips = RoundTrips()
    engine = store.database.engine
    name = engine.dialect.name
    traced: list[Any] = []

    def watch(dbapi_conn: Any) -> None:
        if any(dbapi_conn is seen for seen in traced):
            return
        traced.append(dbapi_conn)
        if name == "sqlite":
            dbapi_conn.set_trace_callback(trips.statements.append)
        elif name == "postgresql":
            file = tempfile.NamedTemporaryFile("w", suffix=".trace", delete=False)  # noqa: SIM115
            trips._trace_files.append(file)
            dbapi_conn.pgconn.trace(file.fileno())

    def on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        watch(dbapi_conn)

    if name == "mysql" and engine.dialect.driver == "mysqldb":
        import MySQLdb.connections

        for method in ("query", "commit", "rollback", "ping"):
            original_method = getattr(MySQLdb.connections.Connection, method)

            def sent(
                self: Any, *args: Any, _method: str = method, _call: Any = original_method
            ) -> Any:
                if _method == "query":
                    text = (
                        args[0].decode(errors="replace") if isinstance(args[0], bytes) else args[0]
                    )
                    trips.statements.append(str(text))
                else:
                    trips.statements.append(_method.upper())
                return _call(self, *args)

            monkeypatch.setattr(MySQLdb.connections.Connection, method, sent)
    elif name == "mysql":
        import pymysql.connections

        original = pymysql.connections.Connection._execute_command

        def execute_command(self: Any, command: int, sql: Any) -> Any:
            text = sql.decode(errors="replace") if isinstance(sql, bytes) else str(sql)
            trips.statements.append(text if command == 3 else f"command {command}")
            return original(self, command, sql)

        monkeypatch.setattr(pymysql.connections.Connection, "_execute_command", execute_command)
    event.listen(engine, "checkout", on_checkout)
    with store.database.connection() as conn:  # a connection held for the whole store
        watch(conn.connection.dbapi_connection)
    try:
        yield trips
    finally:
        event.remove(engine, "checkout", on_checkout)
        for raw in traced:
            with contextlib.suppress(Exception):  # a connection closed meanwhile
                if name == "sqlite":
                    raw.set_trace_callback(None)
                elif name == "postgresql":
                    raw.pgconn.untrace()
        for file in trips._trace_files:
            file.close()
            os.unlink(file.name)
