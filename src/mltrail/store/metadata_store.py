"""``MetadataStore``: MLMD's API over a SQL database, one transaction per call."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.sql.elements import ColumnElement

from mltrail.backends.sql import schema
from mltrail.backends.sql.database import Database
from mltrail.backends.sql.schema import TypeKind
from mltrail.model import (
    Artifact,
    ArtifactType,
    Context,
    ContextType,
    Event,
    Execution,
    ExecutionType,
    ListOptions,
    OrderByField,
    ResultPage,
)
from mltrail.store import _composite, _edges, _types
from mltrail.store._args import (
    batch,
    external_ids_arg,
    filter_arg,
    flag_arg,
    id_arg,
    ids_arg,
    is_storable_id,
    text_arg,
    version_arg,
)
from mltrail.store._listing import (
    ALL,
    Scope,
    count_nodes,
    count_nodes_by_type,
    list_nodes,
    merge_options,
)
from mltrail.store._nodes import (
    ARTIFACTS,
    CONTEXTS,
    EXECUTIONS,
    NodeSpec,
    put_nodes,
    read_by_ids,
    read_in,
    read_where,
)
from mltrail.store._paging import iterate
from mltrail.store._questions import Questions
from mltrail.store._types import TypeCache

R = TypeVar("R")

#: Nodes per page (and per transaction) of ``iter_artifacts`` and the like, unless told.
DEFAULT_PAGE_SIZE = 1000


class MetadataStore(Questions):
    """Records artifacts, executions, contexts and their relations in a SQL database.

    Build one with :func:`mltrail.connect`. Method names and semantics follow MLMD's Python
    ``MetadataStore``. Every call runs in one transaction: when it raises, the store is unchanged.
    Lookups that find nothing return ``[]`` or ``None``. Safe to share between threads.
    """

    def __init__(self, database: Database, schema_version: int) -> None:
        self._db = database
        self._types = TypeCache()
        self.schema_version = schema_version

    # ------------------------------------------------------------------------------ plumbing

    def __repr__(self) -> str:
        return f"<MetadataStore {self._db.description} schema v{self.schema_version}>"

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the database connections."""
        self._db.close()

    @property
    def database(self) -> Database:
        """The underlying :class:`~mltrail.backends.sql.database.Database` (engine and dialect)."""
        return self._db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[MetadataStore]:
        """Make the store calls of a block one transaction::

            with store.transaction():
                found = store.get_artifacts_by_external_ids(["sha256:..."])
                store.put_execution(...)  # both, or neither

        Every call this thread makes on the store inside the block joins it; it commits when
        the block ends and rolls back when the block raises, or when any call in it raised
        (even if the block caught the error). Other readers see all of it or none of it. On
        SQLite the block holds the database's write lock throughout, so nothing else writes
        in between (keep blocks short); on PostgreSQL and MySQL each statement sees what other
        writers committed before it (READ COMMITTED), and a deadlock raises AbortedError:
        running the block again is safe. Transactions do not nest, and a server store
        (``mltrail.connect("http://...")``) has none: each of its calls is a transaction.
        """
        with self._db.transaction(on_rollback=self._types.clear):
            yield self

    def _read(self, fn: Callable[[Connection], R], *, single: bool = False) -> R:
        """``fn`` in a read transaction; ``single``: ``fn`` runs one statement (see
        :meth:`Database.run`)."""
        return self._db.run(fn, write=False, single=single)

    def _write(self, fn: Callable[[Connection], R], *, serial: bool = False) -> R:
        return self._db.run(fn, write=True, on_rollback=self._types.clear, serial=serial)

    def _list(
        self,
        spec: NodeSpec,
        list_options: ListOptions | None,
        kwargs: dict[str, Any],
        scope: Scope = ALL,
    ) -> ResultPage[Any]:
        options = merge_options(list_options, kwargs)
        dialect = self._db.dialect
        return self._read(lambda conn: list_nodes(conn, spec, options, scope, dialect))

    def _iterate(
        self,
        spec: NodeSpec,
        list_options: ListOptions | None,
        kwargs: dict[str, Any],
        page_size: int,
    ) -> Iterator[Any]:
        def fetch(options: ListOptions) -> ResultPage[Any]:
            return self._read(lambda conn: list_nodes(conn, spec, options, ALL))

        return iterate(fetch, spec.label, list_options, kwargs, page_size)

    def _count(self, spec: NodeSpec, filter_query: str | None) -> int:
        filter_query = filter_arg(filter_query, "filter_query")
        return self._read(lambda conn: count_nodes(conn, spec, filter_query, ALL))

    # ------------------------------------------------------------------------------ types

    def put_artifact_type(
        self,
        artifact_type: ArtifactType,
        can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> int:
        """Create an artifact type, or check/evolve the stored one with the same name and version.

        Evolution is add-only: new properties need ``can_add_fields``, leaving stored ones out needs
        ``can_omit_fields``; changing a property's type is refused (register a new ``version``).
        Returns the type id.
        """
        return self._put_type(TypeKind.ARTIFACT, artifact_type, can_add_fields, can_omit_fields)

    def put_execution_type(
        self,
        execution_type: ExecutionType,
        can_add_fields: bool = False,
        can_omit_fields: bool = False,
    ) -> int:
        """Like :meth:`put_artifact_type`, for execution types."""
        return self._put_type(TypeKind.EXECUTION, execution_type, can_add_fields, can_omit_fields)

    def put_context_type(
        self, context_type: ContextType, can_add_fields: bool = False, can_omit_fields: bool = False
    ) -> int:
        """Like :meth:`put_artifact_type`, for context types."""
        return self._put_type(TypeKind.CONTEXT, context_type, can_add_fields, can_omit_fields)

    def _put_type(self, kind: TypeKind, given: Any, add: bool, omit: bool) -> int:
        add, omit = flag_arg(add, "can_add_fields"), flag_arg(omit, "can_omit_fields")
        return self._write(
            lambda conn: _types.put_type(
                conn, kind, given, can_add_fields=add, can_omit_fields=omit
            )
        )

    def get_artifact_type(self, type_name: str, type_version: str | None = None) -> ArtifactType:
        """The artifact type with this name (and version); raises NotFoundError if absent."""
        return self._get_type(TypeKind.ARTIFACT, type_name, type_version)

    def get_execution_type(self, type_name: str, type_version: str | None = None) -> ExecutionType:
        """The execution type with this name (and version); raises NotFoundError if absent."""
        return self._get_type(TypeKind.EXECUTION, type_name, type_version)

    def get_context_type(self, type_name: str, type_version: str | None = None) -> ContextType:
        """The context type with this name (and version); raises NotFoundError if absent."""
        return self._get_type(TypeKind.CONTEXT, type_name, type_version)

    def _get_type(self, kind: TypeKind, name: str, version: str | None) -> Any:
        name, version = text_arg(name, "type_name"), version_arg(version)
        return self._read(lambda c: _types.get_type(c, kind, name, version))

    def get_artifact_types(self) -> list[ArtifactType]:
        """Every artifact type, by id."""
        return self._read(lambda c: _types.get_types(c, TypeKind.ARTIFACT))

    def get_execution_types(self) -> list[ExecutionType]:
        """Every execution type, by id."""
        return self._read(lambda c: _types.get_types(c, TypeKind.EXECUTION))

    def get_context_types(self) -> list[ContextType]:
        """Every context type, by id."""
        return self._read(lambda c: _types.get_types(c, TypeKind.CONTEXT))

    def get_artifact_types_by_id(self, type_ids: Sequence[int]) -> list[ArtifactType]:
        """Artifact types with these ids; unknown ids (and ids of other kinds) are skipped."""
        ids = ids_arg(type_ids, "type_ids")
        return self._read(lambda c: _types.get_types_by_id(c, TypeKind.ARTIFACT, ids))

    def get_execution_types_by_id(self, type_ids: Sequence[int]) -> list[ExecutionType]:
        """Execution types with these ids; unknown ids are skipped."""
        ids = ids_arg(type_ids, "type_ids")
        return self._read(lambda c: _types.get_types_by_id(c, TypeKind.EXECUTION, ids))

    def get_context_types_by_id(self, type_ids: Sequence[int]) -> list[ContextType]:
        """Context types with these ids; unknown ids are skipped."""
        ids = ids_arg(type_ids, "type_ids")
        return self._read(lambda c: _types.get_types_by_id(c, TypeKind.CONTEXT, ids))

    def get_artifact_types_by_external_ids(self, external_ids: Sequence[str]) -> list[ArtifactType]:
        """Artifact types with these external ids (``[]`` when none match)."""
        ids = external_ids_arg(external_ids)
        return self._read(lambda c: _types.get_types_by_external_ids(c, TypeKind.ARTIFACT, ids))

    def get_execution_types_by_external_ids(
        self, external_ids: Sequence[str]
    ) -> list[ExecutionType]:
        """Execution types with these external ids (``[]`` when none match)."""
        ids = external_ids_arg(external_ids)
        return self._read(lambda c: _types.get_types_by_external_ids(c, TypeKind.EXECUTION, ids))

    def get_context_types_by_external_ids(self, external_ids: Sequence[str]) -> list[ContextType]:
        """Context types with these external ids (``[]`` when none match)."""
        ids = external_ids_arg(external_ids)
        return self._read(lambda c: _types.get_types_by_external_ids(c, TypeKind.CONTEXT, ids))

    # ------------------------------------------------------------------------------ node writes

    def put_artifacts(
        self, artifacts: Sequence[Artifact], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        """Create artifacts without id and update those with one; returns ids in order.

        Without ``field_mask_paths`` an update replaces every field of the stored artifact. With
        paths (``uri``, ``name``, ``state``, ``external_id``, ``properties``, ``properties.<k>``,
        ``custom_properties``, ``custom_properties.<k>``) only those are taken from the request.
        """
        return self._put_nodes(ARTIFACTS, artifacts, field_mask_paths)

    def put_executions(
        self, executions: Sequence[Execution], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        """Create or update executions; see :meth:`put_artifacts`."""
        return self._put_nodes(EXECUTIONS, executions, field_mask_paths)

    def put_contexts(
        self, contexts: Sequence[Context], field_mask_paths: Sequence[str] | None = None
    ) -> list[int]:
        """Create or update contexts; see :meth:`put_artifacts`. A context needs a name."""
        return self._put_nodes(CONTEXTS, contexts, field_mask_paths)

    def _put_nodes(
        self, spec: NodeSpec, nodes: Sequence[Any], mask: Sequence[str] | None
    ) -> list[int]:
        items = batch(nodes, f"{spec.label}s")
        dialect = self._db.dialect
        return self._write(
            lambda conn: put_nodes(conn, dialect, self._types, spec, items, mask, last=True)
        )

    # ------------------------------------------------------------------------------ node reads

    def get_artifacts(
        self, list_options: ListOptions | None = None, **options: Any
    ) -> ResultPage[Artifact]:
        """Artifacts, all or filtered/ordered/paged.

        Options (as a :class:`ListOptions` or keywords): ``filter_query``, ``order_by`` (an
        ``OrderByField``, ``"properties.<name>"`` or ``"custom_properties.<name>"``),
        ``ascending``, ``limit``, ``page_token``.
        """
        return self._list(ARTIFACTS, list_options, options)

    def get_executions(
        self, list_options: ListOptions | None = None, **options: Any
    ) -> ResultPage[Execution]:
        """Executions, all or filtered/ordered/paged; see :meth:`get_artifacts`."""
        return self._list(EXECUTIONS, list_options, options)

    def get_contexts(
        self, list_options: ListOptions | None = None, **options: Any
    ) -> ResultPage[Context]:
        """Contexts, all or filtered/ordered/paged; see :meth:`get_artifacts`."""
        return self._list(CONTEXTS, list_options, options)

    def iter_artifacts(
        self,
        list_options: ListOptions | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Any,
    ) -> Iterator[Artifact]:
        """Every artifact matching ``filter_query``, in the given order, read page by page.

        Takes the options of :meth:`get_artifacts` except ``limit``; each page of ``page_size``
        nodes is one call (one transaction), so this is not a snapshot: a node changed while
        iterating may be seen before or after the change. Bad options raise at the call.
        """
        return self._iterate(ARTIFACTS, list_options, options, page_size)

    def iter_executions(
        self,
        list_options: ListOptions | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Any,
    ) -> Iterator[Execution]:
        """Every matching execution, page by page; see :meth:`iter_artifacts`."""
        return self._iterate(EXECUTIONS, list_options, options, page_size)

    def iter_contexts(
        self,
        list_options: ListOptions | None = None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        **options: Any,
    ) -> Iterator[Context]:
        """Every matching context, page by page; see :meth:`iter_artifacts`."""
        return self._iterate(CONTEXTS, list_options, options, page_size)

    def count_artifacts(self, filter_query: str | None = None) -> int:
        """How many artifacts match ``filter_query`` (all of them without one); one query."""
        return self._count(ARTIFACTS, filter_query)

    def count_executions(self, filter_query: str | None = None) -> int:
        """How many executions match ``filter_query``; see :meth:`count_artifacts`."""
        return self._count(EXECUTIONS, filter_query)

    def count_contexts(self, filter_query: str | None = None) -> int:
        """How many contexts match ``filter_query``; see :meth:`count_artifacts`."""
        return self._count(CONTEXTS, filter_query)

    def count_artifacts_by_type(self, filter_query: str | None = None) -> dict[str, int]:
        """How many artifacts of each type match ``filter_query``, by type name, in name order;
        one grouped query.

        Types without a matching artifact are left out; the versions of a type are counted
        together, as ``type = 'name'`` selects them together.
        """
        return self._count_by_type(ARTIFACTS, filter_query)

    def count_executions_by_type(self, filter_query: str | None = None) -> dict[str, int]:
        """How many executions of each type match ``filter_query``; see
        :meth:`count_artifacts_by_type`."""
        return self._count_by_type(EXECUTIONS, filter_query)

    def count_contexts_by_type(self, filter_query: str | None = None) -> dict[str, int]:
        """How many contexts of each type match ``filter_query``; see
        :meth:`count_artifacts_by_type`."""
        return self._count_by_type(CONTEXTS, filter_query)

    def _count_by_type(self, spec: NodeSpec, filter_query: str | None) -> dict[str, int]:
        filter_query = filter_arg(filter_query, "filter_query")
        return self._read(lambda conn: count_nodes_by_type(conn, spec, filter_query))

    def get_artifacts_by_id(self, artifact_ids: Sequence[int]) -> list[Artifact]:
        """Artifacts with these ids, by id; unknown ids are skipped."""
        return self._by_ids(ARTIFACTS, artifact_ids)

    def get_executions_by_id(self, execution_ids: Sequence[int]) -> list[Execution]:
        """Executions with these ids, by id; unknown ids are skipped."""
        return self._by_ids(EXECUTIONS, execution_ids)

    def get_contexts_by_id(self, context_ids: Sequence[int]) -> list[Context]:
        """Contexts with these ids, by id; unknown ids are skipped."""
        return self._by_ids(CONTEXTS, context_ids)

    def _by_ids(self, spec: NodeSpec, ids: Sequence[int]) -> list[Any]:
        wanted = ids_arg(ids, f"{spec.label}_ids")
        if not wanted:
            return []
        return self._read(lambda conn: read_by_ids(conn, spec, wanted))

    def get_artifacts_by_type(
        self,
        type_name: str,
        type_version: str | None = None,
        list_options: ListOptions | None = None,
        **options: Any,
    ) -> ResultPage[Artifact]:
        """Artifacts of the named type (``[]`` if the type does not exist)."""
        return self._by_type(ARTIFACTS, type_name, type_version, list_options, options)

    def get_executions_by_type(
        self,
        type_name: str,
        type_version: str | None = None,
        list_options: ListOptions | None = None,
        **options: Any,
    ) -> ResultPage[Execution]:
        """Executions of the named type (``[]`` if the type does not exist)."""
        return self._by_type(EXECUTIONS, type_name, type_version, list_options, options)

    def get_contexts_by_type(
        self,
        type_name: str,
        type_version: str | None = None,
        list_options: ListOptions | None = None,
        **options: Any,
    ) -> ResultPage[Context]:
        """Contexts of the named type (``[]`` if the type does not exist)."""
        return self._by_type(CONTEXTS, type_name, type_version, list_options, options)

    def _by_type(
        self,
        spec: NodeSpec,
        name: str,
        version: str | None,
        list_options: ListOptions | None,
        options: dict[str, Any],
    ) -> ResultPage[Any]:
        scope = Scope(
            "type", type_name=text_arg(name, "type_name"), type_version=version_arg(version)
        )
        return self._list(spec, list_options, options, scope)

    def get_artifact_by_type_and_name(
        self, type_name: str, artifact_name: str, type_version: str | None = None
    ) -> Artifact | None:
        """The artifact of this type with this name, or None."""
        return self._by_type_and_name(ARTIFACTS, type_name, artifact_name, type_version)

    def get_execution_by_type_and_name(
        self, type_name: str, execution_name: str, type_version: str | None = None
    ) -> Execution | None:
        """The execution of this type with this name, or None."""
        return self._by_type_and_name(EXECUTIONS, type_name, execution_name, type_version)

    def get_context_by_type_and_name(
        self, type_name: str, context_name: str, type_version: str | None = None
    ) -> Context | None:
        """The context of this type with this name, or None."""
        return self._by_type_and_name(CONTEXTS, type_name, context_name, type_version)

    def _by_type_and_name(
        self, spec: NodeSpec, type_name: str, name: str, version: str | None
    ) -> Any:
        params = {
            "type_name": text_arg(type_name, "type_name"),
            "type_version": version_arg(version),
            "name": text_arg(name, "name"),
        }

        def where() -> ColumnElement[bool]:
            t = schema.type_.alias("wanted_type")
            type_ids = select(t.c.id).where(
                t.c.kind == int(spec.kind),
                t.c.name == bindparam("type_name"),
                t.c.version == bindparam("type_version"),
            )
            return spec.table.c.type_id.in_(type_ids) & (spec.table.c.name == bindparam("name"))

        found = self._read(lambda conn: read_where(conn, spec, "type_and_name", where, params))
        return found[0] if found else None

    def get_artifacts_by_uri(self, uri: str | Sequence[str]) -> list[Artifact]:
        """Artifacts whose uri is ``uri`` (or any of a list of uris)."""
        uris = [uri] if isinstance(uri, str) else batch(uri, "uri")
        for value in uris:
            text_arg(value, "uri")
        return self._read(lambda conn: read_in(conn, ARTIFACTS, "uri", uris))

    def get_artifacts_by_external_ids(self, external_ids: Sequence[str]) -> list[Artifact]:
        """Artifacts with these external ids (``[]`` when none match)."""
        return self._by_external_ids(ARTIFACTS, external_ids)

    def get_executions_by_external_ids(self, external_ids: Sequence[str]) -> list[Execution]:
        """Executions with these external ids (``[]`` when none match)."""
        return self._by_external_ids(EXECUTIONS, external_ids)

    def get_contexts_by_external_ids(self, external_ids: Sequence[str]) -> list[Context]:
        """Contexts with these external ids (``[]`` when none match)."""
        return self._by_external_ids(CONTEXTS, external_ids)

    def _by_external_ids(self, spec: NodeSpec, external_ids: Sequence[str]) -> list[Any]:
        ids = external_ids_arg(external_ids)
        return self._read(lambda conn: read_in(conn, spec, "external_id", ids))

    def get_artifacts_and_types_by_artifact_ids(
        self, artifact_ids: Sequence[int]
    ) -> tuple[list[Artifact], list[ArtifactType]]:
        """Artifacts with these ids and the types they use."""
        ids = ids_arg(artifact_ids, "artifact_ids")

        def run(conn: Connection) -> tuple[list[Artifact], list[ArtifactType]]:
            artifacts = read_by_ids(conn, ARTIFACTS, ids) if ids else []
            type_ids = sorted({a.type_id for a in artifacts if a.type_id is not None})
            types = _types.get_types_by_id(conn, TypeKind.ARTIFACT, type_ids)
            return artifacts, types

        return self._read(run)

    # ------------------------------------------------------------------------------ events

    def put_events(self, events: Sequence[Event]) -> None:
        """Record events; each needs artifact_id, execution_id and a type other than UNKNOWN."""
        items = batch(events, "events")
        self._write(lambda conn: _edges.put_events(conn, items))

    def get_events_by_execution_ids(self, execution_ids: Sequence[int]) -> list[Event]:
        """Events of these executions, in the order they were recorded."""
        ids = ids_arg(execution_ids, "execution_ids")
        return self._read(lambda conn: _edges.get_events(conn, "execution_id", ids)) if ids else []

    def get_events_by_artifact_ids(self, artifact_ids: Sequence[int]) -> list[Event]:
        """Events of these artifacts, in the order they were recorded."""
        ids = ids_arg(artifact_ids, "artifact_ids")
        return self._read(lambda conn: _edges.get_events(conn, "artifact_id", ids)) if ids else []

    # ------------------------------------------------------------------------------ contexts

    def put_attributions_and_associations(
        self, attributions: Sequence[Any], associations: Sequence[Any]
    ) -> None:
        """Put artifacts (attributions) and executions (associations) into contexts.

        Links that already exist are left as they are.
        """
        attrs = batch(attributions or (), "attributions")
        assocs = batch(associations or (), "associations")
        dialect = self._db.dialect
        self._write(
            lambda conn: _edges.put_attributions_and_associations(conn, dialect, attrs, assocs)
        )

    def put_parent_contexts(self, parent_contexts: Sequence[Any]) -> None:
        """Link contexts to parents; an existing link is AlreadyExistsError, a cycle is refused."""
        links = batch(parent_contexts, "parent_contexts")
        # Serial: two concurrent calls could each add a link that closes a cycle only together.
        self._write(lambda conn: _edges.put_parent_contexts(conn, links), serial=True)

    def get_parent_contexts_by_context(self, context_id: int) -> list[Context]:
        """The parents of a context."""
        return self._contexts_linked("parents", id_arg(context_id, "context_id"))

    def get_children_contexts_by_context(self, context_id: int) -> list[Context]:
        """The children of a context."""
        return self._contexts_linked("children", id_arg(context_id, "context_id"))

    def get_parent_contexts_by_contexts(
        self, context_ids: Sequence[int]
    ) -> dict[int, list[Context]]:
        """The parents of each of these contexts, by context id, each list by id; contexts
        without a parent (and unknown ids) are left out. Two queries, whatever the number."""
        ids = ids_arg(context_ids, "context_ids")
        return self._read(lambda conn: _edges.linked_contexts_of_many(conn, "parents", ids))

    def get_children_contexts_by_contexts(
        self, context_ids: Sequence[int]
    ) -> dict[int, list[Context]]:
        """The children of each of these contexts, by context id; see
        :meth:`get_parent_contexts_by_contexts`."""
        ids = ids_arg(context_ids, "context_ids")
        return self._read(lambda conn: _edges.linked_contexts_of_many(conn, "children", ids))

    def get_contexts_by_artifact(self, artifact_id: int) -> list[Context]:
        """Contexts an artifact is attributed to (``[]`` when none)."""
        return self._contexts_linked("of_artifact", id_arg(artifact_id, "artifact_id"))

    def get_contexts_by_execution(self, execution_id: int) -> list[Context]:
        """Contexts an execution is associated with (``[]`` when none)."""
        return self._contexts_linked("of_execution", id_arg(execution_id, "execution_id"))

    def _contexts_linked(self, relation: str, node_id: int) -> list[Context]:
        if not is_storable_id(node_id):
            return []  # no node has this id
        params = {"node_id": node_id}
        where = lambda: CONTEXTS.table.c.id.in_(_edges.linked_contexts(relation))  # noqa: E731
        return self._read(lambda conn: read_where(conn, CONTEXTS, relation, where, params))

    def get_artifacts_by_context(
        self, context_id: int, list_options: ListOptions | None = None, **options: Any
    ) -> ResultPage[Artifact]:
        """Artifacts attributed to a context; list options as in :meth:`get_artifacts`."""
        return self._list(ARTIFACTS, list_options, options, _context_scope(context_id))

    def get_executions_by_context(
        self, context_id: int, list_options: ListOptions | None = None, **options: Any
    ) -> ResultPage[Execution]:
        """Executions associated with a context; list options as in :meth:`get_artifacts`."""
        return self._list(EXECUTIONS, list_options, options, _context_scope(context_id))

    # ------------------------------------------------------------------------------ composite

    def put_execution(
        self,
        execution: Execution,
        artifact_and_events: Sequence[Any] | None,
        contexts: Sequence[Context] | None,
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
        force_reuse_context: bool = False,
        force_update_time: bool = False,
    ) -> tuple[int, list[int], list[int]]:
        """Record an execution with its artifacts, events and contexts in one transaction.

        ``artifact_and_events`` holds ``(artifact,)``, ``(artifact, event)`` or
        ``(None, event)`` pairs; new artifacts are created, ones with ids updated. Each context is
        created (or updated when it has an id) and gets the execution and every artifact of the
        call. ``reuse_context_if_already_exist`` reuses a context with the same type and name
        instead of failing; ``reuse_artifact_if_already_exist_by_external_id`` updates the artifact
        that has the given external id instead of creating another; ``force_reuse_context`` takes
        contexts with ids as they are stored. Returns ``(execution_id, artifact_ids, context_ids)``
        where ``artifact_ids`` is aligned with ``artifact_and_events``.
        """
        items = batch(artifact_and_events or (), "artifact_and_events")
        ctxs = batch(contexts or (), "contexts")
        flags = (
            flag_arg(reuse_context_if_already_exist, "reuse_context_if_already_exist"),
            flag_arg(
                reuse_artifact_if_already_exist_by_external_id,
                "reuse_artifact_if_already_exist_by_external_id",
            ),
            flag_arg(force_reuse_context, "force_reuse_context"),
            flag_arg(force_update_time, "force_update_time"),
        )
        dialect = self._db.dialect
        return self._write(
            lambda conn: _composite.put_execution(
                conn,
                dialect,
                self._types,
                execution,
                items,
                ctxs,
                reuse_context_if_already_exist=flags[0],
                reuse_artifact_if_already_exist_by_external_id=flags[1],
                force_reuse_context=flags[2],
                force_update_time=flags[3],
            )
        )

    def put_lineage_subgraph(
        self,
        executions: Sequence[Execution],
        artifacts: Sequence[Artifact],
        contexts: Sequence[Context],
        event_edges: Sequence[tuple[int | None, int | None, Event]],
        reuse_context_if_already_exist: bool = False,
        reuse_artifact_if_already_exist_by_external_id: bool = False,
    ) -> tuple[list[int], list[int], list[int]]:
        """Record a whole subgraph in one transaction.

        ``event_edges`` are ``(execution_index, artifact_index, event)``: indexes into the given
        lists, or None to use the event's own ``execution_id`` / ``artifact_id``. Every execution
        and artifact is put into every context. Returns the ids of executions, artifacts and
        contexts, aligned with the inputs.
        """
        lists = (
            batch(executions or (), "executions"),
            batch(artifacts or (), "artifacts"),
            batch(contexts or (), "contexts"),
            batch(event_edges or (), "event_edges"),
        )
        flags = (
            flag_arg(reuse_context_if_already_exist, "reuse_context_if_already_exist"),
            flag_arg(
                reuse_artifact_if_already_exist_by_external_id,
                "reuse_artifact_if_already_exist_by_external_id",
            ),
        )
        dialect = self._db.dialect
        return self._write(
            lambda conn: _composite.put_lineage_subgraph(
                conn,
                dialect,
                self._types,
                *lists,
                reuse_context_if_already_exist=flags[0],
                reuse_artifact_if_already_exist_by_external_id=flags[1],
            )
        )


def _context_scope(context_id: Any) -> Scope:
    checked = id_arg(context_id, "context_id")
    # An id no context can have finds nothing, like any unknown id (0 is never an id).
    return Scope("context", context_id=checked if is_storable_id(checked) else 0)


__all__ = ["MetadataStore", "OrderByField"]
