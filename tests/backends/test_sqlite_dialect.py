"""The SQLite connection set-up: WAL, busy timeout, synchronous, foreign keys and their options."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mltrail
from mltrail import errors
from mltrail.backends.sql.database import Database


def pragmas(store: mltrail.MetadataStore) -> dict[str, Any]:
    with store.database.connection() as conn:
        return {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
        }


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ml.db"


def test_a_file_store_uses_wal_normal_sync_and_a_busy_timeout(path: Path) -> None:
    with mltrail.connect(f"sqlite:///{path}") as store:
        assert pragmas(store) == {
            "journal_mode": "wal",
            "synchronous": 1,  # NORMAL
            "busy_timeout": 60_000,
            "foreign_keys": 1,
        }


def test_an_in_memory_store_enforces_foreign_keys() -> None:
    with mltrail.connect() as store:
        assert pragmas(store)["foreign_keys"] == 1
        assert pragmas(store)["journal_mode"] == "memory"


@pytest.mark.parametrize(
    ("query", "keywords", "synchronous", "busy_timeout"),
    [
        ("?synchronous=full", {}, 2, 60_000),
        ("?synchronous=OFF&busy_timeout=250", {}, 0, 250),
        ("?synchronous=extra", {}, 3, 60_000),
        ("", {"synchronous": "full", "busy_timeout": 1500}, 2, 1500),
        ("?synchronous=off", {"synchronous": "normal"}, 1, 60_000),  # keywords win
    ],
)
def test_url_and_keyword_options_set_the_pragmas(
    path: Path, query: str, keywords: dict[str, Any], synchronous: int, busy_timeout: int
) -> None:
    with mltrail.connect(f"sqlite:///{path}{query}", **keywords) as store:
        got = pragmas(store)
    assert (got["synchronous"], got["busy_timeout"]) == (synchronous, busy_timeout)
    assert got["journal_mode"] == "wal"


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?synchronous=fast", ["synchronous", "OFF, NORMAL, FULL, EXTRA"]),
        ("?busy_timeout=soon", ["busy_timeout", "integer"]),
        ("?journal=wal", ["unknown SQLite option", "journal", "busy_timeout", "synchronous"]),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(
    path: Path, query: str, words: list[str]
) -> None:
    with pytest.raises(errors.InvalidArgumentError) as raised:
        mltrail.connect(f"sqlite:///{path}{query}")
    for word in words:
        assert word in str(raised.value)
    assert not path.exists()


@pytest.fixture
def write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the file's write lock, with an uncommitted artifact type."""
    with mltrail.connect(f"sqlite:///{path}") as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Before"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO mlt_type (kind, name, version) VALUES (1, 'Uncommitted', '')")
    yield other
    other.execute("ROLLBACK")
    other.close()


def test_a_writer_kept_waiting_past_the_busy_timeout_gets_aborted(
    path: Path, write_lock: sqlite3.Connection
) -> None:
    with mltrail.connect(f"sqlite:///{path}?busy_timeout=20") as store:
        with pytest.raises(errors.AbortedError) as raised:
            store.put_artifact_type(mltrail.ArtifactType(name="Blocked"))
        assert "busy" in str(raised.value) and "retry" in str(raised.value)
        # Readers are not blocked by the writer (WAL) and do not see its uncommitted work.
        assert [t.name for t in store.get_artifact_types()] == ["Before"]
        write_lock.execute("ROLLBACK")
        write_lock.execute("BEGIN")  # the fixture's ROLLBACK needs a transaction to end
        store.put_artifact_type(mltrail.ArtifactType(name="Blocked"))
        assert [t.name for t in store.get_artifact_types()] == ["Before", "Blocked"]


def test_connections_opening_one_new_file_at_once_all_switch_it_to_wal(tmp_path: Path) -> None:
    # Connections that switch a new file to WAL at the same moment can each hold the lock the
    # other waits for; SQLite then says "database is locked" at once, without waiting.
    files, openers = 40, 4
    barrier = threading.Barrier(openers)
    modes: list[str] = []
    failures: list[BaseException] = []

    def open_each() -> None:
        for n in range(files):
            barrier.wait(timeout=60)
            db = Database(f"sqlite:///{tmp_path / f'{n}.db'}")
            try:
                with db.engine.connect() as conn:
                    modes.append(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one())
            except BaseException as exc:
                failures.append(exc)
            finally:
                db.close()

    threads = [threading.Thread(target=open_each) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures[:3]
    assert modes == ["wal"] * (files * openers)
