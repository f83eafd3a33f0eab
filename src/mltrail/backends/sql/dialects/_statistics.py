"""Fresh index statistics on MySQL and MariaDB (InnoDB).

The optimizer chooses between an index and reading a whole table by the statistics InnoDB keeps
of each index. InnoDB recalculates them in the background once a tenth of a table changed, at
most every ten seconds, and the server's open tables keep the figures they were opened with: a
store that grows from empty in a burst is planned as if it were still nearly empty, and the
artifacts of one context are then found by reading every artifact. ``ANALYZE TABLE`` refreshes
both.

So the store checks its tables in the background: after its calls, at most every
:data:`CHECK_INTERVAL` seconds, one query reads each mltrail table's row count and the row
count its statistics describe (the cardinality of its primary key), and ``ANALYZE TABLE`` runs
on the tables (of at least :data:`MIN_ROWS` rows) whose statistics describe less than half of
their rows, or that have doubled since this process last analyzed or first looked at them. The
check runs on a connection of its own, never in a call's transaction; a check that fails (no
privilege, the server gone) is left for the next one.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError

#: Seconds from a call to the check after it (and between two checks).
CHECK_INTERVAL = 2.0
#: Tables with fewer rows keep their statistics (any plan reads them quickly).
MIN_ROWS = 1000

_SIZES = text(
    "SELECT t.table_name, t.table_rows, MAX(s.cardinality) "
    "FROM information_schema.tables t JOIN information_schema.statistics s "
    "ON s.table_schema = t.table_schema AND s.table_name = t.table_name "
    "AND s.index_name = 'PRIMARY' "
    "WHERE t.table_schema = DATABASE() AND t.table_name LIKE 'mlt\\\\_%' "
    "GROUP BY t.table_name, t.table_rows"
)


_KEEPERS: weakref.WeakKeyDictionary[Engine, StatisticsKeeper] = weakref.WeakKeyDictionary()
_KEEPERS_LOCK = threading.Lock()


class StatisticsKeeper:
    """Keeps the statistics of one store's tables fresh (see the module), from a background
    thread that starts with the first call and ends when the store's engine is disposed (the
    store is closed, which waits for a check under way) or garbage-collected."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._known: dict[str, int] = {}  # rows at this process's last analysis or first look
        self._wanted = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        event.listen(engine, "engine_disposed", self._on_dispose)

    @classmethod
    def of(cls, engine: Engine) -> StatisticsKeeper:
        """The keeper of ``engine``'s store (made at the first call)."""
        with _KEEPERS_LOCK:
            keeper = _KEEPERS.get(engine)
            if keeper is None:
                keeper = _KEEPERS[engine] = cls(engine)
            return keeper

    def wake(self) -> None:
        """A call has ended: check soon."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopped.is_set():
                    self._thread = threading.Thread(
                        target=self._loop, name="mltrail-statistics", daemon=True
                    )
                    self._thread.start()
        self._wanted.set()

    def stale(self, conn: Any) -> list[str]:
        """The tables whose statistics are due for a refresh."""
        due = []
        for name, rows, described in conn.execute(_SIZES).all():
            name, rows, described = str(name), int(rows or 0), int(described or 0)
            known = self._known.setdefault(name, rows)
            if rows >= MIN_ROWS and (rows > 2 * described or rows > 2 * known):
                due.append(name)
        return sorted(due)

    def check(self) -> list[str]:
        """Analyze the tables that are due (see the module); returns their names."""
        engine = self._engine()
        if engine is None:
            return []
        with engine.connect() as conn:
            due = self.stale(conn)
            # The names come from the database, and every one matches mlt_[a-z_]+.
            listed = ", ".join(f"`{n}`" for n in due if n.replace("_", "").isalnum())
            if listed:
                conn.exec_driver_sql(f"ANALYZE TABLE {listed}").fetchall()
                for name, rows, _described in conn.execute(_SIZES).all():
                    if str(name) in due:
                        self._known[str(name)] = int(rows or 0)
            conn.rollback()
        return due

    def _on_dispose(self, _engine: Engine) -> None:
        self._stopped.set()
        self._wanted.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            if not self._wanted.wait(timeout=30.0):
                if self._engine() is None:
                    return
                continue
            if self._stopped.wait(CHECK_INTERVAL):
                return
            self._wanted.clear()
            with contextlib.suppress(SQLAlchemyError):
                self.check()
