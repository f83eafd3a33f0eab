"""Schema version 3 (sync): a version 2 database with data is migrated with its rows stamped and
its change feed seeded, on every backend (SQLite in memory and in a file, PostgreSQL, MariaDB)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from test_migrations import LIBRARY, Target, _drift, make_old, target, view

import mltrail
from mltrail import MetadataStore
from mltrail.backends.sql import schema
from mltrail.backends.sql.migrations import prepare_schema

__all__ = ["target"]  # the fixture, parametrized over the backends

NODES = {1: "mlt_artifact", 2: "mlt_execution", 3: "mlt_context"}


def _rows(conn: sa.Connection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in conn.exec_driver_sql(sql).all()]


def test_a_version_2_database_is_migrated_with_its_rows_stamped_and_the_feed_seeded(
    target: Target,
) -> None:
    before = make_old(target, 2)
    with target.open() as db:
        with db.connection() as conn:
            types = _rows(conn, "SELECT kind, id FROM mlt_type ORDER BY kind, id")
            ids = {k: _rows(conn, f"SELECT id FROM {t} ORDER BY id") for k, t in NODES.items()}
            times = {
                k: dict(_rows(conn, f"SELECT id, last_update_time_since_epoch FROM {t}"))
                for k, t in NODES.items()
            }
        assert prepare_schema(db) == LIBRARY == 3
        store = MetadataStore(db, LIBRARY)
        assert view(store) == before
        assert _drift(db, schema.metadata) == []
        with db.connection() as conn:
            [(site_id, site_uuid, feed_seq, applied_seq, label)] = _rows(
                conn, "SELECT id, uuid, feed_seq, applied_seq, label FROM mlt_site"
            )
            feed = _rows(conn, "SELECT seq, kind, entity_id, source FROM mlt_change ORDER BY seq")
            stamps = {
                k: _rows(conn, f"SELECT id, hlc, site FROM {t} ORDER BY id")
                for k, t in NODES.items()
            }
            props = {
                k: _rows(conn, f"SELECT node_id, hlc, site FROM {t}_property")
                for k, t in NODES.items()
            }
        # The store itself is site 1, under a new random UUID.
        assert (site_id, applied_seq, label) == (1, 0, None)
        assert uuid.UUID(str(site_uuid)).version == 4
        # Every entity, in the order in which nothing refers to what was not listed yet:
        # types (artifact, execution, context types, each by id), contexts, artifacts,
        # executions; positions 1..n, all made here.
        expected = [(10 + kind, type_id) for kind, type_id in types]
        for kind in (3, 1, 2):
            expected += [(kind, node_id) for (node_id,) in ids[kind]]
        assert len(expected) == 3 + 4 + 3 + 3  # what populate() writes
        assert feed == [(seq, k, i, None) for seq, (k, i) in enumerate(expected, 1)]
        # The servers hand out positions from the self row; SQLite's are rowids.
        assert feed_seq == (0 if db.engine.dialect.name == "sqlite" else len(expected))
        # Rows are stamped with their node's last update (milliseconds << 16), made here.
        for kind in NODES:
            assert stamps[kind] == [
                (node_id, times[kind][node_id] * 65536, 1) for node_id in times[kind]
            ]
            assert props[kind] or kind == 3, NODES[kind]  # populate() gives contexts none
            assert all(
                (hlc, site) == (times[kind][node_id] * 65536, 1)
                for node_id, hlc, site in props[kind]
            )
        # The migrated store goes on writing its feed after the seeded rows.
        [artifact] = store.get_artifacts_by_id([ids[1][0][0]])
        artifact.uri = "/moved"
        store.put_artifacts([artifact])
        [new_id] = store.put_artifacts([mltrail.Artifact(type_id=artifact.type_id, uri="/new")])
        with db.connection() as conn:
            tail = _rows(
                conn, f"SELECT seq, kind, entity_id FROM mlt_change WHERE seq > {len(feed)}"
            )
            [(hlc,)] = _rows(conn, f"SELECT hlc FROM mlt_artifact WHERE id = {artifact.id}")
        n = len(feed)
        assert tail == [(n + 1, 1, artifact.id), (n + 2, 1, new_id)]
        assert hlc > times[1][artifact.id] * 65536
