"""Read-only stores: every read works, every write is refused with a typed error and changes
nothing, and no migration is attempted."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import mltrail
from _servers import SERVERS
from mltrail import MetadataStore
from mltrail.backends.sql.database import Database
from mltrail.backends.sql.migrations import Migration, builtin_migrations, prepare_schema
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, SchemaVersionError


def fill(url: str) -> None:
    with mltrail.connect(url) as store:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        store.put_artifacts([mltrail.Artifact(type="Data", uri="/d", name="d")])


def assert_reads_work_and_writes_are_refused(store: MetadataStore) -> None:
    [artifact] = store.get_artifacts()
    assert (artifact.uri, artifact.name) == ("/d", "d")
    assert [a.uri for a in store.get_artifacts(filter_query="uri = '/d'")] == ["/d"]
    assert store.get_artifact_type("Data") is not None
    writes = [
        lambda: store.put_artifact_type(mltrail.ArtifactType(name="Other")),
        lambda: store.put_artifacts([mltrail.Artifact(type="Data", uri="/e")]),
        lambda: store.put_contexts([mltrail.Context(type="Data", name="c")]),
    ]
    for write in writes:
        with pytest.raises(FailedPreconditionError, match="opened read-only, and this call writes"):
            write()
    assert [a.uri for a in store.get_artifacts()] == ["/d"]


@pytest.mark.parametrize("backend", ["sqlite-file", *SERVERS], indirect=True)
def test_a_read_only_store_reads_and_refuses_writes(empty_url: str | None) -> None:
    assert empty_url is not None
    fill(empty_url)
    with mltrail.connect(empty_url, read_only=True) as store:
        assert_reads_work_and_writes_are_refused(store)
    with mltrail.connect(empty_url) as store:  # the writes really did not happen
        assert [t.name for t in store.get_artifact_types()] == ["Data"]


def test_mode_ro_in_the_url_opens_sqlite_read_only_and_writes_no_byte(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    fill(f"sqlite:///{path}")
    before = path.read_bytes()
    with mltrail.connect(f"sqlite:///{path}?mode=ro") as store:
        assert_reads_work_and_writes_are_refused(store)
        # SQLite itself refuses writes on this connection too (not only mltrail's check).
        with (
            pytest.raises(sa.exc.OperationalError, match="readonly"),
            store._db.connection() as conn,
        ):
            conn.exec_driver_sql("DELETE FROM mlt_artifact")
    assert path.read_bytes() == before


@contextlib.contextmanager
def read_only_mount(source: Path, target: Path) -> Iterator[Path]:
    """``source`` bind-mounted read-only at ``target`` (the tests run as root, for whom
    permission bits do not stop writes; a read-only mount does)."""
    target.mkdir()
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_store_in_a_read_only_directory_opens_read_only(tmp_path: Path) -> None:
    source = tmp_path / "data"
    source.mkdir()
    fill(f"sqlite:///{source / 'store.db'}")
    before = sorted(p.name for p in source.iterdir())
    with read_only_mount(source, tmp_path / "ro") as mounted:
        with pytest.raises(mltrail.errors.MltrailError):
            mltrail.connect(mounted / "store.db")  # writable open: SQLite cannot even start
        with mltrail.connect(f"sqlite:///{mounted / 'store.db'}", read_only=True) as store:
            assert_reads_work_and_writes_are_refused(store)
    assert sorted(p.name for p in source.iterdir()) == before


def test_an_older_schema_is_not_migrated_read_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fill(url)
    current = len(builtin_migrations())
    newer = (*builtin_migrations(), Migration(current + 1, "a later step", lambda op: None))
    db = Database(url, {"read_only": True})
    try:
        with pytest.raises(SchemaVersionError, match="open it once without read_only") as caught:
            prepare_schema(db, migrations=newer)
        versions = (caught.value.database_version, caught.value.library_version)
        assert versions == (current, current + 1)
    finally:
        db.close()
    db = Database(url)
    try:  # still at the current version: nothing was migrated
        assert prepare_schema(db, migrations=builtin_migrations()) == current
    finally:
        db.close()


def test_a_missing_or_empty_file_is_not_opened_read_only(tmp_path: Path) -> None:
    with pytest.raises(FailedPreconditionError, match=r"no SQLite file .* to open read-only"):
        mltrail.connect(tmp_path / "missing.db", read_only=True)
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "empty.db").touch()
    with pytest.raises(FailedPreconditionError, match="holds no mltrail store"):
        mltrail.connect(tmp_path / "empty.db", read_only=True)


def test_read_only_options_are_checked() -> None:
    with pytest.raises(InvalidArgumentError, match="in-memory store cannot be read-only"):
        mltrail.connect(read_only=True)
    with pytest.raises(InvalidArgumentError, match="read_only='maybe' must be true or false"):
        mltrail.connect(read_only="maybe")
    with pytest.raises(InvalidArgumentError, match="mode='rwx'"):
        mltrail.connect("sqlite:///x.db?mode=rwx")
