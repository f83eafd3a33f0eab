"""SQLite file stores checkpoint their WAL in the background, not in the commits of calls."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import mltrail
from mltrail import Artifact, MetadataStore
from mltrail.backends.sql.dialects import sqlite as sqlite_dialect


def _write(store: MetadataStore, count: int) -> None:
    data = store.put_artifact_type(mltrail.ArtifactType(name="Data"))
    for i in range(count):
        store.put_artifacts([Artifact(type_id=data, uri=f"/d/{i}")])


def _checkpointer(store: MetadataStore) -> sqlite_dialect._Checkpointer:
    found = store.database.dialect._checkpointer  # type: ignore[attr-defined]
    assert isinstance(found, sqlite_dialect._Checkpointer)
    return found


def _wal_state(path: Path) -> tuple[int, int]:
    """Frames in the WAL, and how many of them are copied into the database file."""
    with sqlite3.connect(path) as conn:
        _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return frames, copied


def test_commits_do_not_checkpoint(tmp_path: Path) -> None:
    with mltrail.connect(f"sqlite:///{tmp_path / 's.db'}") as store:
        with store.database.connection() as conn:
            value = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert value == 0


def test_the_thread_runs_while_the_store_is_open_and_stops_when_it_closes(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = mltrail.connect(f"sqlite:///{path}")
    checkpointer = _checkpointer(store)
    _write(store, 3)
    thread = checkpointer._thread
    assert thread is not None and thread.is_alive()
    store.close()
    assert not thread.is_alive()
    # The last connection closed, SQLite copied the WAL back and removed it.
    assert not os.path.exists(f"{path}-wal")
    with mltrail.connect(f"sqlite:///{path}") as again:
        assert len(again.get_artifacts()) == 3


def test_a_checkpoint_copies_the_wal_without_waiting_for_a_reader(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with mltrail.connect(f"sqlite:///{path}") as store:
        _write(store, 20)
        reader = sqlite3.connect(path)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM mlt_artifact").fetchone()
            _checkpointer(store).checkpoint()  # returns although a reader holds a snapshot
        finally:
            reader.close()
        frames, copied = _wal_state(path)
        assert frames > 0 and copied == frames


def test_a_wal_past_its_limit_is_truncated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    with mltrail.connect(f"sqlite:///{path}") as store:
        _write(store, 20)
        assert os.path.getsize(f"{path}-wal") > 0
        monkeypatch.setattr(sqlite_dialect, "WAL_LIMIT_PAGES", 1)
        _checkpointer(store).checkpoint()
        assert os.path.getsize(f"{path}-wal") == 0
        _write_more = store.put_artifacts(
            [Artifact(type_id=store.get_artifact_type("Data").id, uri="/after")]
        )
        assert len(_write_more) == 1
        assert len(store.get_artifacts()) == 21
