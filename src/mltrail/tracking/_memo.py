"""A persistent memo of file digests: (path, size, mtime_ns, inode) → digest.

An unchanged file is not read again: when its size, modification time and inode are those
recorded with its digest, the recorded digest is returned. The memo is a small SQLite file
(``.mltrail/hash-memo.db``) opened with the standard library's ``sqlite3``; it is a cache, so any
failure to read or write it (a read-only disk, a locked file) only costs a re-hash.

Racy entries: a file modified in the same clock tick as it was hashed could be modified again
without its mtime changing. Like git's "racily clean" index entries, a digest is recorded only
when the file's mtime is older than :data:`RACY_WINDOW_NS` before hashing started, so such files
are simply hashed again next time.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path

#: Files modified less than this long before hashing started are not memoized (2 s covers the
#: coarsest common timestamp resolutions: FAT, HFS+, some network file systems).
RACY_WINDOW_NS = 2_000_000_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS digest_memo (
    path TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    hexdigest TEXT NOT NULL,
    PRIMARY KEY (path, algorithm)
)
"""

Entry = tuple[str, os.stat_result, str]  # (absolute path, stat when hashed, hexdigest)


def stat_key(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


class HashMemo:
    """The digest memo kept in one SQLite file; safe to share between threads."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False
        self._finalizer: weakref.finalize[[], HashMemo] | None = None

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and not self._broken:
            try:
                conn = sqlite3.connect(
                    str(self.location), timeout=5.0, check_same_thread=False, isolation_level=None
                )
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = OFF")
                conn.execute(_SCHEMA)
                self._conn = conn
                # Closed with its owner even if close() is never called.
                self._finalizer = weakref.finalize(self, conn.close)
            except sqlite3.Error:
                self._broken = True
        return self._conn

    def get(self, path: str, algorithm: str, st: os.stat_result) -> str | None:
        """The memoized hex digest of ``path`` if the file is unchanged since, else None."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                row = conn.execute(
                    "SELECT size, mtime_ns, inode, hexdigest FROM digest_memo "
                    "WHERE path = ? AND algorithm = ?",
                    (path, algorithm),
                ).fetchone()
            except sqlite3.Error:
                return None
        if row is None or tuple(row[:3]) != stat_key(st):
            return None
        return str(row[3])

    def put(self, algorithm: str, entries: Iterable[Entry], hashing_started_ns: int) -> None:
        """Remember digests, except those of files too recently modified to be trusted."""
        limit = hashing_started_ns - RACY_WINDOW_NS
        rows = [
            (path, algorithm, *stat_key(st), hexdigest)
            for path, st, hexdigest in entries
            if st.st_mtime_ns < limit
        ]
        if not rows:
            return
        with self._lock:
            conn = self._connection()
            if conn is None:
                return
            try:
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT OR REPLACE INTO digest_memo VALUES (?, ?, ?, ?, ?, ?)", rows
                )
                conn.execute("COMMIT")
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")

    def close(self) -> None:
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()  # closes the connection, once
                self._finalizer = None
            self._conn = None
