"""Importing an ML Metadata (MLMD) database: what TFX, Kubeflow Pipelines and CMF record.

:func:`import_mlmd` reads an MLMD database of schema version 10 (ML Metadata 1.11 to 1.17, a
SQLite file or a MySQL/MariaDB database) straight from its tables and merges it into a store as
the changes of one more site (docs/sync.md): the MLMD database's nodes are known by the global
ids ``[site, MLMD id]``, stamped with MLMD's last-update times, and merged by the sync merge
rules. So a second import adds nothing, an import after the database grew adds what is new or
updated, and a batch that cannot merge is refused whole. docs/mlmd-import.md has the mapping.

    >>> import mltrail
    >>> from mltrail.compat.mlmd import import_mlmd
    >>> report = import_mlmd(mltrail.connect("store.db"), "mlmd.sqlite")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, literal_column, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from mltrail.compat import _mlmd_schema as mlmd
from mltrail.compat._mlmd_values import STRUCT_PREFIX, BadValue, proto_json, struct_json
from mltrail.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
)

__all__ = ["DEFAULT_BATCH_SIZE", "ImportReport", "import_mlmd", "source_site"]

#: Nodes of the MLMD database per batch (each batch is one transaction of the store).
DEFAULT_BATCH_SIZE = 2000

# mltrail's node kinds (TypeKind) and MLMD's type_kind of each.
_ARTIFACT, _EXECUTION, _CONTEXT = 1, 2, 3
_KIND = {1: _ARTIFACT, 0: _EXECUTION, 2: _CONTEXT}
_KIND_OF_TABLE = {"Artifact": _ARTIFACT, "Execution": _EXECUTION, "Context": _CONTEXT}
_SCALARS = {"Artifact": ("uri", "state"), "Execution": ("last_known_state",), "Context": ()}
#: The system types every MLMD database holds (the targets of ``base_type``), by kind and name.
_BASE_TYPES = {
    (1, "mlmd.Dataset"): 1,
    (1, "mlmd.Model"): 2,
    (1, "mlmd.Metrics"): 3,
    (1, "mlmd.Statistics"): 4,
    (0, "mlmd.Train"): 1,
    (0, "mlmd.Transform"): 2,
    (0, "mlmd.Process"): 3,
    (0, "mlmd.Evaluate"): 4,
    (0, "mlmd.Deploy"): 5,
}
_PROTO, _STRUCT = 5, 4  # MLMD PropertyType numbers


@dataclass(frozen=True)
class ImportReport:
    """What an import read and what the store did with it.

    ``rows``: the MLMD rows read (every row of Type, TypeProperty, ParentType, the node tables
    and their property tables, Event, EventPath, Attribution, Association and ParentContext);
    ``created`` / ``updated`` / ``unchanged``: the MLMD nodes new to the store, changed in it, or
    already there as they are; ``edges``: events, memberships and parent links added; ``types``:
    types created or given more properties."""

    source: str
    target: str
    site: str
    batches: int
    rows: int
    nodes: int
    created: int
    updated: int
    unchanged: int
    edges: int
    types: int

    def summary(self) -> str:
        """One line for people."""
        return (
            f"{self.source} -> {self.target}: {self.rows} MLMD row(s), {self.nodes} node(s) in "
            f"{self.batches} batch(es); {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.edges} edge(s) added, {self.types} type(s) "
            "added or extended"
        )


def import_mlmd(
    store: Any,
    url: str | os.PathLike[str],
    *,
    site: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ImportReport:
    """Merge the MLMD database at ``url`` into ``store`` (a store on SQLite, PostgreSQL or
    MySQL opened by :func:`mltrail.connect`).

    ``url``: a SQLite file (a path or ``sqlite:///path``) or ``mysql://user:password@host:port/db``
    (MariaDB too). ``site``: the site id (a UUID) the database's nodes are known by; by default
    :func:`source_site` of ``url``, so give it when importing a copy of a database that was
    imported from elsewhere. ``batch_size``: MLMD nodes per transaction.

    The database is checked before anything is written: not an MLMD database, or another schema
    version than 10, raises :class:`~mltrail.errors.FailedPreconditionError` (a
    :class:`~mltrail.errors.SchemaVersionError` for the version); rows that do not hold together
    (an event naming a missing artifact, a property its type does not declare...) raise
    :class:`~mltrail.errors.InvalidArgumentError` naming the record. A batch that conflicts with
    the store raises :class:`~mltrail.errors.SyncConflictError`; the batches before it stay
    applied, each whole, and importing again after resolving it goes on from there.
    """
    from mltrail.backends.sql.database import Database

    database = getattr(store, "database", None)
    if not isinstance(database, Database):
        raise InvalidArgumentError(
            "an MLMD database is imported into a store this process opens (SQLite, PostgreSQL, "
            "MySQL); to fill an mltrail server, import into a local store and push it"
        )
    if type(batch_size) is not int or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive integer, got {batch_size!r}")
    chosen = _site_option(site) if site is not None else None
    source = _Source.open(url)
    site_id = chosen or source.site
    try:
        with source.snapshot() as conn:
            mlmd.check_schema(conn, source.description)
            mlmd.check_consistency(conn, source.description)
            reader = _Reader(conn, site_id, source)
            total = _apply_all(store, reader.batches(batch_size), source.description)
    finally:
        source.close()
    created, updated, edges, types, batches = total
    return ImportReport(
        source=source.description,
        target=str(database.description),
        site=site_id,
        batches=batches,
        rows=reader.rows,
        nodes=reader.nodes,
        created=created,
        updated=updated,
        unchanged=reader.nodes - created - updated,
        edges=edges,
        types=types,
    )


def source_site(url: str | os.PathLike[str]) -> str:
    """The site id an MLMD database is imported as by default: the UUID 5 (URL namespace) of
    ``mlmd+sqlite:///ABSOLUTE/PATH`` for a SQLite file, ``mlmd+mysql://HOST:PORT/DATABASE`` for
    MySQL (host in lower case, port 3306 unless given)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, _identity(url)[0]))


def _apply_all(
    store: Any, batches: Iterator[dict[str, Any]], label: str
) -> tuple[int, int, int, int, int]:
    from mltrail.sync._apply import Applied
    from mltrail.sync._peers import StorePeer

    peer = StorePeer(store)
    total = Applied()
    count = 0
    for batch in batches:
        total.add(peer.merge(batch, label))
        count += 1
    return total.created, total.updated, total.edges, total.types, count


def _site_option(site: str) -> str:
    try:
        return str(uuid.UUID(str(site)))
    except ValueError:
        raise InvalidArgumentError(
            f"site {site!r} is not a UUID; give the site id the database was imported as "
            "before (e.g. 9b2d4c1e-5f0a-4e8b-a1c3-7d6e5f4a3b2c), or leave it out"
        ) from None


# ------------------------------------------------------------------------------------- sources


def _identity(url: str | os.PathLike[str]) -> tuple[str, Any]:
    """The normalized identity of an MLMD database and what opens it (a path or a URL)."""
    text = os.fspath(url)
    if "://" not in text:
        path = Path(text).expanduser().resolve()
        return f"mlmd+sqlite://{path.as_posix()}", path
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise InvalidArgumentError(f"cannot parse the MLMD database URL {text!r}: {exc}") from None
    backend = parsed.drivername.split("+", 1)[0].lower()
    if backend == "sqlite":
        if not parsed.database:
            raise InvalidArgumentError(
                f"{text!r} names no file: an MLMD SQLite database is sqlite:///path/to/file"
            )
        path = Path(parsed.database).expanduser().resolve()
        return f"mlmd+sqlite://{path.as_posix()}", path
    if backend in ("mysql", "mariadb"):
        if not parsed.database:
            raise InvalidArgumentError(
                f"{parsed.render_as_string()!r} names no database: use "
                "mysql://user:password@host:port/database"
            )
        host = (parsed.host or "localhost").lower()
        return f"mlmd+mysql://{host}:{parsed.port or 3306}/{parsed.database}", parsed
    raise InvalidArgumentError(
        f"{backend}:// is not a database ML Metadata writes that this import reads; give a "
        "SQLite file (a path or sqlite:///path) or mysql://user@host:port/database"
    )


class _Source:
    """An MLMD database opened for reading, in one snapshot."""

    def __init__(self, engine: Engine, description: str, site: str, sqlite: bool) -> None:
        self.engine = engine
        self.description = description
        self.site = site
        self.sqlite = sqlite

    @classmethod
    def open(cls, url: str | os.PathLike[str]) -> _Source:
        identity, where = _identity(url)
        site = str(uuid.uuid5(uuid.NAMESPACE_URL, identity))
        if isinstance(where, Path):
            if not where.is_file():
                raise NotFoundError(
                    f"no MLMD database at {where}: give the SQLite file ML Metadata writes to "
                    "(ConnectionConfig.sqlite.filename_uri)"
                )
            import sqlite3
            from urllib.parse import quote

            uri = f"file:{quote(where.as_posix())}?mode=ro"
            engine = create_engine(
                "sqlite://",
                creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
                poolclass=NullPool,
                isolation_level="AUTOCOMMIT",  # the snapshot's BEGIN is issued by hand
            )
            return cls(engine, f"MLMD SQLite file {where}", site, sqlite=True)
        from mltrail.backends.sql.dialects import dialect_for

        dialect = dialect_for("mysql")
        engine_url = dialect.engine_url(where.set(drivername="mysql"))
        engine = dialect.create_engine(engine_url, dict(where.query.items()))
        return cls(engine, f"MLMD {dialect.describe(engine_url)}", site, sqlite=False)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A connection that reads one consistent state of the database throughout."""
        try:
            conn = self.engine.connect()
        except DBAPIError as exc:
            raise UnavailableError(
                f"cannot open {self.description}: {exc.orig}; check the URL, that the server "
                "runs and that the credentials are right"
            ) from None
        with conn:
            try:
                if self.sqlite:
                    conn.exec_driver_sql("BEGIN")
                    conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
                yield conn
            except DBAPIError as exc:
                if self.sqlite and "not a database" in str(exc.orig):
                    raise FailedPreconditionError(
                        f"{self.description} is not an ML Metadata database (not a SQLite "
                        "file at all); give the file ML Metadata writes to"
                    ) from None
                raise
            finally:
                if self.sqlite:
                    with contextlib.suppress(DBAPIError):
                        conn.exec_driver_sql("ROLLBACK")
                else:
                    conn.rollback()

    def close(self) -> None:
        self.engine.dispose()


# ------------------------------------------------------------------------------------- reading


def _path_json(steps: list[int | str]) -> str | None:
    # The form mltrail stores a path in (mltrail.store._edges.encode_path).
    return json.dumps(steps, separators=(",", ":"), ensure_ascii=False) if steps else None


class _Reader:
    """The MLMD database as sync batches: its types, then contexts, artifacts and executions,
    each a run of batches of up to ``batch_size`` nodes with their properties and edges."""

    def __init__(self, conn: Connection, site: str, source: _Source) -> None:
        self.conn = conn
        self.site = site
        self.source = source
        self.rows = 0
        self.nodes = 0
        self.types: dict[int, dict[str, Any]] = {}  # MLMD type id -> batch type record
        self.type_keys: dict[int, list[str]] = {}  # MLMD type id -> [name, version]
        self.decoded: dict[tuple[str, int, str, bool], str] = {}  # structs and protos, as JSON
        self._read_types()
        self._decode_values()
        self._wanted = self._wanted_types()
        self._unsent = set(self._wanted)

    # ---------------------------------------------------------------------------------- types

    def _read_types(self) -> None:
        t = mlmd.TYPE
        rows = self.conn.execute(
            select(t.c.id, t.c.name, t.c.version, t.c.type_kind, t.c.description, t.c.external_id)
        ).all()
        properties = self.conn.execute(
            select(
                mlmd.TYPE_PROPERTY.c.type_id,
                mlmd.TYPE_PROPERTY.c.name,
                mlmd.TYPE_PROPERTY.c.data_type,
            )
        ).all()
        parents = self.conn.execute(
            select(mlmd.PARENT_TYPE.c.type_id, mlmd.PARENT_TYPE.c.parent_type_id)
        ).all()
        self.rows += len(rows) + len(properties) + len(parents)
        by_id = {row.id: row for row in rows}
        self.system = {
            row.id: _BASE_TYPES[(row.type_kind, row.name)]
            for row in rows
            if (row.type_kind, row.name) in _BASE_TYPES and not row.version
        }
        for row in rows:
            self.types[row.id] = {
                "kind": _KIND[row.type_kind],
                "name": row.name,
                "version": row.version or "",
                "description": row.description,
                "external_id": row.external_id,
                "base_type": None,
                "properties": [],
            }
            self.type_keys[row.id] = [row.name, row.version or ""]
        for type_id, name, data_type in properties:
            if type_id in self.types:
                # mltrail has no PROTO type: a proto value is kept as a struct (see
                # _mlmd_values.proto_json), so the property is declared STRUCT.
                kept = _STRUCT if data_type == _PROTO else int(data_type)
                self.types[type_id]["properties"].append([name, kept])
        for type_id, parent_id in parents:
            parent = by_id.get(parent_id)
            if (
                type_id in self.types
                and parent_id in self.system
                and parent is not None
                and parent.type_kind == by_id[type_id].type_kind
            ):
                self.types[type_id]["base_type"] = self.system[parent_id]
        for record in self.types.values():
            record["properties"].sort()

    def _wanted_types(self) -> list[int]:
        """Every type but the system ones that no node uses."""
        used: set[int] = set()
        for table, _, _ in mlmd.NODES.values():
            query = select(table.c.type_id).where(table.c.type_id.in_(sorted(self.system)))
            used.update(row[0] for row in self.conn.execute(query.distinct()))
        return sorted(i for i in self.types if i not in self.system or i in used)

    def _decode_values(self) -> None:
        """Decode every struct and proto value first: one that does not decode refuses the
        import before anything is written."""
        for label, (_, props, node) in mlmd.NODES.items():
            p = props
            query = select(
                p.c[node], p.c.name, p.c.is_custom_property, p.c.string_value, p.c.proto_value
            ).where(p.c.string_value.like(STRUCT_PREFIX + "%") | p.c.proto_value.is_not(None))
            for node_id, name, custom, text, proto in self.conn.execute(query):
                try:
                    value = struct_json(text) if text is not None else proto_json(proto)
                except BadValue as exc:
                    raise InvalidArgumentError(
                        f"{self.source.description} is inconsistent: "
                        f"{'custom ' if custom else ''}property {name!r} of {label} {node_id} "
                        f"holds {exc}; nothing was imported. Fix or remove the value and "
                        "import again"
                    ) from None
                self.decoded[(label, node_id, name, bool(custom))] = value

    # -------------------------------------------------------------------------------- batches

    def batches(self, size: int) -> Iterator[dict[str, Any]]:
        for label in ("Context", "Artifact", "Execution"):
            yield from self._phase(label, size)
        if self._unsent:  # types that no batch carried: a database without nodes
            yield self._batch([], set())

    def _batch(self, nodes: list[dict[str, Any]], type_ids: set[int]) -> dict[str, Any]:
        wanted = type_ids | self._unsent
        self._unsent.clear()
        return {
            "format": 1,
            "site": self.site,
            "from": None,
            "to": None,
            "types": [self.types[i] for i in sorted(wanted)],
            "nodes": nodes,
        }

    def _phase(self, label: str, size: int) -> Iterator[dict[str, Any]]:
        table, _, _ = mlmd.NODES[label]
        after = 0
        while True:
            rows = self.conn.execute(
                self._node_query(label).where(table.c.id > after).order_by(table.c.id).limit(size)
            ).all()
            if not rows:
                return
            low, high = after, rows[-1][0]
            after = high
            self.rows += len(rows)
            self.nodes += len(rows)
            type_ids: set[int] = set()
            main = {row[0]: self._record(label, row, type_ids) for row in rows}
            self._add_properties(label, main, low, high)
            extra = self._add_edges(label, main, low, high, type_ids)
            yield self._batch([*main.values(), *extra], type_ids)

    def _node_query(self, label: str) -> Any:
        table, _, _ = mlmd.NODES[label]
        c = table.c
        return select(
            c.id,
            c.type_id,
            c.name,
            c.external_id,
            c.create_time_since_epoch,
            c.last_update_time_since_epoch,
            *[c[s] for s in _SCALARS[label]],
        )

    def _record(self, label: str, row: Any, type_ids: set[int]) -> dict[str, Any]:
        node_id, type_id, name, external_id, created, updated, *scalars = row
        updated = int(updated or 0)
        type_ids.add(type_id)
        return {
            "kind": _KIND_OF_TABLE[label],
            "gid": [self.site, node_id],
            "type": self.type_keys[type_id],
            "name": name,
            "external_id": external_id,
            "fields": dict(zip(_SCALARS[label], scalars)),
            "stamp": [updated << 16, self.site],
            "created": int(created or 0),
            "updated": updated,
            "props": [],
            "removed": [],
        }

    def _add_properties(
        self, label: str, records: dict[int, dict[str, Any]], low: int, high: int | None = None
    ) -> None:
        """The property rows of ``records``: those of the node ids in (low, high], or when
        ``high`` is None those of the records' ids."""
        _, p, node = mlmd.NODES[label]
        query = select(
            p.c[node],
            p.c.name,
            p.c.is_custom_property,
            p.c.int_value,
            p.c.double_value,
            p.c.string_value,
            p.c.proto_value,
            p.c.bool_value,
        )
        if high is None:
            ids = sorted(records)
            rows: Sequence[Any] = [
                row
                for start in range(0, len(ids), 500)
                for row in self.conn.execute(query.where(p.c[node].in_(ids[start : start + 500])))
            ]
        else:
            rows = self.conn.execute(query.where((p.c[node] > low) & (p.c[node] <= high))).all()
            self.rows += len(rows)
        decoded = self.decoded
        for node_id, name, custom, int_, double, string, proto, boolean in rows:
            record = records[node_id]
            custom = bool(custom)
            value: Any
            if int_ is not None:
                slot, value = 0, int(int_)
            elif double is not None:
                slot, value = 1, float(double)
            elif string is not None and not string.startswith(STRUCT_PREFIX):
                slot, value = 2, string
            elif string is not None or proto is not None:
                slot, value = 4, decoded[(label, node_id, name, custom)]
            else:
                slot, value = 3, bool(boolean)
            stamp = record["stamp"][0]
            record["props"].append([name, custom, slot, value, stamp, self.site])

    # ---------------------------------------------------------------------------------- edges

    def _add_edges(
        self,
        label: str,
        main: dict[int, dict[str, Any]],
        low: int,
        high: int,
        type_ids: set[int],
    ) -> list[dict[str, Any]]:
        """Each main record's edges; returns the records of the nodes they reach outside the
        batch. Those imported by an earlier batch come without properties (the store has
        them); a parent context still to come comes whole."""
        site = self.site
        conn = self.conn
        extra: list[dict[str, Any]] = []
        if label == "Context":
            pc = mlmd.PARENT_CONTEXT
            for record in main.values():
                record["edges"] = {"parents": []}
            links = conn.execute(
                select(pc.c.context_id, pc.c.parent_context_id).where(
                    (pc.c.context_id > low) & (pc.c.context_id <= high)
                )
            ).all()
            self.rows += len(links)
            for child, parent in links:
                main[child]["edges"]["parents"].append([site, parent])
            outside = sorted({parent for _, parent in links} - set(main))
            later = [i for i in outside if i > high]
            extra += self._referenced("Context", [i for i in outside if i <= low], type_ids)
            whole = {r["gid"][1]: r for r in self._referenced("Context", later, type_ids)}
            if whole:
                self._add_properties("Context", whole, 0)
            extra += whole.values()
            return extra
        if label == "Artifact":
            a = mlmd.ATTRIBUTION
            for record in main.values():
                record["edges"] = {"contexts": []}
            pairs = conn.execute(
                select(a.c.artifact_id, a.c.context_id).where(
                    (a.c.artifact_id > low) & (a.c.artifact_id <= high)
                )
            ).all()
            self.rows += len(pairs)
            for artifact_id, context_id in pairs:
                main[artifact_id]["edges"]["contexts"].append([site, context_id])
            contexts = sorted({c for _, c in pairs})
            return self._referenced("Context", contexts, type_ids)
        # executions: events (with their paths) and associations
        for record in main.values():
            record["edges"] = {"events": [], "contexts": []}
        s = mlmd.ASSOCIATION
        pairs = conn.execute(
            select(s.c.execution_id, s.c.context_id).where(
                (s.c.execution_id > low) & (s.c.execution_id <= high)
            )
        ).all()
        e, p = mlmd.EVENT, mlmd.EVENT_PATH
        in_range = (e.c.execution_id > low) & (e.c.execution_id <= high)
        events = conn.execute(
            select(
                e.c.id, e.c.execution_id, e.c.artifact_id, e.c.type, e.c.milliseconds_since_epoch
            ).where(in_range)
        ).all()
        path_query = select(p.c.event_id, p.c.is_index_step, p.c.step_index, p.c.step_key).where(
            p.c.event_id.in_(select(e.c.id).where(in_range))
        )
        if self.source.sqlite:  # the steps in the order they were written
            path_query = path_query.order_by(literal_column('"EventPath".rowid'))
        paths: dict[int, list[int | str]] = {}
        steps = conn.execute(path_query).all()
        for event_id, is_index, index, key in steps:
            paths.setdefault(event_id, []).append(int(index) if is_index else key)
        self.rows += len(pairs) + len(events) + len(steps)
        for execution_id, context_id in pairs:
            main[execution_id]["edges"]["contexts"].append([site, context_id])
        for event_id, execution_id, artifact_id, event_type, ms in events:
            main[execution_id]["edges"]["events"].append(
                [
                    [site, artifact_id],
                    int(event_type),
                    _path_json(paths.get(event_id, [])),
                    int(ms or 0),
                ]
            )
        artifacts = sorted({row[2] for row in events})
        contexts = sorted({c for _, c in pairs})
        return [
            *self._referenced("Artifact", artifacts, type_ids),
            *self._referenced("Context", contexts, type_ids),
        ]

    def _referenced(self, label: str, ids: list[int], type_ids: set[int]) -> list[dict[str, Any]]:
        """Records (without properties or edges) of the nodes ``ids`` of ``label``."""
        table, _, _ = mlmd.NODES[label]
        out: list[dict[str, Any]] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in self.conn.execute(self._node_query(label).where(table.c.id.in_(chunk))):
                out.append(self._record(label, row, type_ids))
        return out
