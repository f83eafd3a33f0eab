"""Hydrate a subgraph: the nodes of a lineage answer with their events, contexts and types.

An answer is read by one statement joined to the walk that found it: the walk's CTEs (artifact
ids, execution ids) are computed once inside the statement, and one ``UNION ALL`` of tagged rows
brings the nodes and their properties, the events between them, their memberships, their
contexts, the parent links among those and the types they use. No id list travels to the
database and back, so the statement has one shape per question, whatever the answer's size, and
is compiled once.

:func:`load_subgraph` reads the same graph for ids already known (an answer cut to its nearest
nodes), with a fixed number of set-based statements over id lists.
"""

from __future__ import annotations

import json
import sqlite3
import weakref
from collections.abc import Callable, Collection, Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    select,
    union_all,
)

from mltrail._lru import SizedLRU
from mltrail.backends.sql import readers, schema
from mltrail.backends.sql.fast import Compiled, FastStatement, InStatement, bucket, key_weight
from mltrail.backends.sql.feed import TYPE_KIND_OFFSET, types_noted
from mltrail.backends.sql.readers import ARTIFACTS, CONTEXTS, EXECUTIONS, decode
from mltrail.backends.sql.schema import TypeKind
from mltrail.model import (
    Artifact,
    ArtifactState,
    Association,
    Attribution,
    Context,
    Execution,
    ExecutionState,
    LineageGraph,
    ParentContext,
    PropertyType,
)

GRAPH_FIELDS = (
    "artifact_types",
    "execution_types",
    "context_types",
    "artifacts",
    "executions",
    "contexts",
    "events",
    "attributions",
    "associations",
    "parent_contexts",
)
_CONTEXT_FIELDS = frozenset(
    {"contexts", "attributions", "associations", "parent_contexts", "context_types"}
)
_TYPE_FIELDS = {
    "artifact_types": TypeKind.ARTIFACT,
    "execution_types": TypeKind.EXECUTION,
    "context_types": TypeKind.CONTEXT,
}

_attr, _assoc, _pc = schema.attribution, schema.association, schema.parent_context
E, T, TP = schema.event, schema.type_, schema.type_property

# ------------------------------------------------------------------------------ the joined answer
#
# An answer is read by one statement joined to the walk, so that the walk is computed once. Rows
# are kept narrow (11 columns), since every value of every row costs the driver time: nodes and
# their properties come as separate rows (no NULL-padded outer join), nodes carry their type's id
# and the names come with the types. A tag tells the kind of row. Columns keep one SQL type
# across the branches of the UNION; a first branch without rows fixes them (PostgreSQL would
# otherwise type a column of NULLs as text and refuse the numbers that follow):
#
#   tag            1         2          3          4        5      6       7..10 (text)
#   0-2 node       id        type_id    created    updated  state  -       name, external_id, uri
#   3-5 property   node id   int value  is_custom  bool     -      double  name, string, struct
#   6   type       id        kind       base_type  -        -      -       name, version,
#                                                                          description, ext. id
#   7   type prop  type id   data type                                     name
#   8   event      artifact  execution  type       time     id     -       path
#   9   attribution: artifact, context   10 association: execution, context
#   11  parent link: child, parent       12 artifact id   13 context id
#   14  the change feed: its last position, whether a type changed after the position of the
#       types already known (see _SeenTypes)
#   15  packed (SQLite): 1 the tag of the rows packed, 7 a JSON array of those rows, each laid
#       out as above (see packs_rows)
#
# Events and parent links are read by one end and kept in Python when the other end is in the
# answer too (tags 12 and 13 tell, when the answer's nodes are not read otherwise): with both ends
# tested by IN, planners probe every pair of the two lists.

_WIDTH = 11
_ARTIFACT, _EXECUTION, _CONTEXT, _TYPE, _TYPE_PROPERTY = 0, 1, 2, 6, 7
_EVENT, _ATTRIBUTION, _ASSOCIATION, _PARENT, _ARTIFACT_ID, _CONTEXT_ID = 8, 9, 10, 11, 12, 13
_FEED = 14
_PACKED = 15
_PACKABLE = frozenset({_CONTEXT, _ATTRIBUTION, _PARENT})
_KINDS = (
    (ARTIFACTS, "artifacts", "artifact_types"),
    (EXECUTIONS, "executions", "execution_types"),
    (CONTEXTS, "contexts", "context_types"),
)
_NODE_FIELDS = frozenset({"artifacts", "executions", "contexts", *_TYPE_FIELDS})


class _Ids:
    """The ids of one kind of node in an answer, and how a branch is limited to them: joined to
    a CTE holding each id once (``joined``), or tested by ``IN`` on ``source`` (whose ids may
    repeat; MySQL and MariaDB, which do better this way)."""

    __slots__ = ("cte", "joined")

    def __init__(self, source: Any, name: str, *, joined: bool) -> None:
        self.joined = joined
        self.cte = select(source.c.id).distinct().cte(name) if joined else source

    def restrict(self, query: Any, column: Any) -> Any:
        """``query`` (of ``column``'s table) limited to rows whose ``column`` is one of the ids."""
        if self.joined:
            return query.select_from(self.cte.join(column.table, column == self.cte.c.id))
        return query.where(column.in_(select(self.cte.c.id)))


def _row(tag: int, *values: Any) -> list[Any]:
    """A select list of the nodes statement's shape: ``values`` by position, NULLs after."""
    columns = [literal(tag), *values]
    return columns + [null()] * (_WIDTH - len(columns))


def _rows(packed: bool, tag: int, *values: Any) -> list[Any]:
    """The select list of a branch's rows (``tag``, ``values``), or with ``packed`` of one row
    holding them all as a JSON array of ``[tag, *values]``: see :func:`packs_rows`."""
    if not packed or tag not in _PACKABLE:
        return _row(tag, *values)
    rows = func.json_group_array(func.json_array(literal(tag), *values))
    return _row(_PACKED, literal(tag), *[null()] * 5, rows)


def packs_rows(conn: Connection) -> bool:
    """Whether answers on ``conn``'s database bring their contexts (not their properties), their
    attributions and their parent links packed, a JSON array per branch (see :func:`_rows`).

    These are the parts that grow with a shared input: a dataset every run reads makes its
    answer carry every run's context. SQLite's driver spends more on each row it hands to
    Python than SQLite spends on adding it to an array: the statement of an answer with a
    thousand contexts takes 3.4 ms instead of 6.6. Packing the other branches too made answers
    of a few nodes slower (a ``json.loads`` per branch) for little gain on long chains. Only
    integers and text are packed: SQLite writes doubles in JSON with 15 digits, so properties
    stay rows. JSON functions are built into SQLite from version 3.38; other databases read rows.
    """
    return conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 38)


def _typing_branch() -> Any:
    """No rows, every column typed (integers, an integer, a double, texts)."""
    p = schema.artifact_property
    ints, text = [p.c.node_id, p.c.int_value, p.c.int_value, p.c.int_value], p.c.string_value
    return select(literal(-1), *ints, p.c.int_value, p.c.double_value, *[text] * 4).where(false())


def _node_branches(spec: readers.NodeSpec, tag: int, ids: _Ids, packed: bool) -> list[Any]:
    """The rows of the nodes among ``ids`` (packed: see :func:`_rows`), and their properties."""
    t, p = spec.table, spec.props
    uri = t.c.uri if "uri" in spec.scalars else null()
    state = t.c[spec.scalars[-1]] if spec.scalars else null()
    head = [t.c.id, t.c.type_id, t.c.create_time_since_epoch, t.c.last_update_time_since_epoch]
    nodes = select(*_rows(packed, tag, *head, state, null(), t.c.name, t.c.external_id, uri))
    props = select(
        *_row(
            tag + 3,
            p.c.node_id,
            p.c.int_value,
            cast(p.c.is_custom, Integer),
            cast(p.c.bool_value, Integer),
            null(),
            p.c.double_value,
            p.c.name,
            p.c.string_value,
            p.c.struct_value,
        )
    )
    return [ids.restrict(nodes, t.c.id), ids.restrict(props, p.c.node_id)]


def answer_statements(
    artifacts: Any,
    executions: Any,
    fields: frozenset[str],
    *,
    joined: bool = True,
    known_types: bool = False,
    packed: bool = False,
) -> list[Any]:
    """The statement (in a list of one) reading the graph of the nodes whose ids ``artifacts``
    and ``executions`` (selectables with an ``id`` column, usually CTEs of a walk) give, with the
    parts that ``fields`` (the LineageGraph fields wanted) need; ``joined``: see
    :func:`joins_ids`. ``known_types``: the types are not read, but whether one changed since
    the position ``types_since`` of the change feed (see :class:`_SeenTypes`). ``packed``: see
    :func:`packs_rows`."""
    # Joined, the answer's artifacts, executions and contexts are CTEs of distinct ids
    # (computed once in the statement) that the branches join: one key probe per id, where an
    # IN (SELECT ...) over the walk built a temporary list in every branch (on SQLite 11% of a
    # small answer's time; on PostgreSQL the same; on MariaDB the IN form is faster).
    a_ids = _Ids(artifacts, "answer_artifacts", joined=joined)
    e_ids = _Ids(executions, "answer_executions", joined=joined)
    contexts = union_all(
        a_ids.restrict(select(_attr.c.context_id.label("id")), _attr.c.artifact_id),
        e_ids.restrict(select(_assoc.c.context_id), _assoc.c.execution_id),
    ).cte("answer_context_rows" if joined else "answer_contexts")
    c_ids = _Ids(contexts, "answer_contexts", joined=joined)
    ids_of = {"artifacts": a_ids, "executions": e_ids, "contexts": c_ids}
    # One statement, so that the walk is computed once.
    parts = [_typing_branch()]
    if fields & _NODE_FIELDS:
        used = []
        for tag, (spec, field, types_field) in enumerate(_KINDS):
            ids = ids_of[field]
            if field in fields:
                parts.extend(_node_branches(spec, tag, ids, packed))
            if field in fields or types_field in fields:
                used.append(ids.restrict(select(spec.table.c.type_id), spec.table.c.id))
        used_ids = union_all(*used) if len(used) > 1 else used[0]
        parts.append(_feed_row(known_types))
    if fields & _NODE_FIELDS and not known_types:
        parts.append(
            select(
                *_row(
                    _TYPE,
                    T.c.id,
                    T.c.kind,
                    T.c.base_type,
                    null(),
                    null(),
                    null(),
                    T.c.name,
                    T.c.version,
                    T.c.description,
                    T.c.external_id,
                )
            ).where(T.c.id.in_(used_ids))
        )
        if fields & _TYPE_FIELDS.keys():
            parts.append(
                select(
                    *_row(_TYPE_PROPERTY, TP.c.type_id, TP.c.data_type, *[null()] * 4, TP.c.name)
                ).where(TP.c.type_id.in_(used_ids))
            )
    if "events" in fields:
        columns = (E.c.artifact_id, E.c.execution_id, E.c.type, E.c.milliseconds_since_epoch)
        parts.append(
            e_ids.restrict(
                select(*_row(_EVENT, *columns, E.c.id, null(), E.c.path)), E.c.execution_id
            )
        )
    if "events" in fields and "artifacts" not in fields:
        parts.append(select(*_row(_ARTIFACT_ID, a_ids.cte.c.id)))
    if "attributions" in fields:
        row = select(*_rows(packed, _ATTRIBUTION, _attr.c.artifact_id, _attr.c.context_id))
        parts.append(a_ids.restrict(row, _attr.c.artifact_id))
    if "associations" in fields:
        row = select(*_row(_ASSOCIATION, _assoc.c.execution_id, _assoc.c.context_id))
        parts.append(e_ids.restrict(row, _assoc.c.execution_id))
    if "parent_contexts" in fields:
        if not {"attributions", "associations"} <= fields:
            parts.append(select(*_row(_CONTEXT_ID, c_ids.cte.c.id)))
        row = select(*_rows(packed, _PARENT, _pc.c.context_id, _pc.c.parent_context_id))
        parts.append(c_ids.restrict(row, _pc.c.context_id))
    return [union_all(*parts) if len(parts) > 1 else parts[0]]


_CHANGE = schema.change


def _feed_row(known_types: bool) -> Any:
    """The row of the change feed's last position (and, with ``known_types``, 1 when a type
    changed in the window after ``types_since``, else 0)."""
    last = select(func.coalesce(func.max(_CHANGE.c.seq), 0)).scalar_subquery()
    changed: Any = literal(0)
    if known_types:
        window = and_(
            _CHANGE.c.seq > bindparam("types_since", type_=BigInteger),
            _CHANGE.c.seq <= bindparam("types_until", type_=BigInteger),
            _CHANGE.c.kind > TYPE_KIND_OFFSET,
        )
        changed = case((exists().where(window), 1), else_=0)
    return select(*_row(_FEED, last, changed))


class _SeenTypes:
    """The types answers used, as they were at position ``position`` of the change feed.

    Every write of a type notes it in the feed (by any process, and by the sync merge), so an
    answer may use these instead of reading its types again while the feed holds no type change
    after ``position``: its statement tells (one probe of the feed's newest rows) and the types
    are read again only when one changed. Types are never removed.
    """

    __slots__ = ("position", "types")

    #: Feed positions an answer looks through for a type change; further behind, it reads its
    #: types again.
    WINDOW = 4096

    def __init__(self, position: int, types: dict[int, readers.TypeInfo]) -> None:
        self.position = position
        self.types = types


_SEEN: weakref.WeakKeyDictionary[Engine, _SeenTypes] = weakref.WeakKeyDictionary()


def seen_types_params(conn: Connection) -> dict[str, int] | None:
    """The parameters of an answer statement with ``known_types`` on ``conn``'s database, or
    None when no types are known yet (the statement must read them)."""
    seen = _SEEN.get(conn.engine)
    if seen is None or types_noted(conn):
        return None  # a transaction that changed a type reads its own view of them
    return {"types_since": seen.position, "types_until": seen.position + _SeenTypes.WINDOW}


def _remember_types(conn: Connection, last: int, read: dict[int, readers.TypeInfo]) -> None:
    """Types an answer read (whole) at feed position ``last``, with those seen before when no
    type changed in between (unknown here: those are dropped unless at the same position)."""
    seen = _SEEN.get(conn.engine)
    types = dict(seen.types) if seen is not None and seen.position == last else {}
    types.update(read)
    _SEEN[conn.engine] = _SeenTypes(last, types)


def _known_types(
    conn: Connection, needed: set[int], since: int, last: int, changed: bool
) -> dict[int, readers.TypeInfo]:
    """The types ``needed`` by an answer read at feed position ``last`` whose statement looked
    for a type change after ``since``: those seen (read again when one changed, when the feed
    moved further than the window, or when another answer replaced the types seen at
    ``since`` meanwhile)."""
    seen = _SEEN.get(conn.engine)
    fresh = (
        seen is not None
        and seen.position == since
        and not changed
        and since <= last <= since + _SeenTypes.WINDOW
    )
    if fresh and seen is not None and needed <= seen.types.keys():
        if seen.position != last:
            _SEEN[conn.engine] = _SeenTypes(last, seen.types)
        return seen.types
    types = dict(seen.types) if fresh and seen is not None else {}
    missing = sorted(needed - types.keys())
    types.update((t.id, t) for t in readers.types_by_ids(conn, missing))
    _SEEN[conn.engine] = _SeenTypes(last, types)  # a new dict: readers may hold the old one
    return types


def joins_ids(conn: Connection) -> bool:
    """Whether answers on ``conn``'s database join their id CTEs (else they test ``IN``)."""
    return conn.dialect.name != "mysql"


class Answer:
    """The statement of :func:`answer_statements`, compiled once (or shipped compiled, see
    :mod:`mltrail.query._precompiled`); ``known_types`` as it was built with."""

    __slots__ = ("known_types", "statement")

    def __init__(
        self,
        build: Callable[[], list[Any]],
        *,
        known_types: bool = False,
        shipped: Callable[[Any], Compiled | None] | None = None,
    ) -> None:
        def statement() -> Any:
            [built] = build()
            return built

        self.statement = FastStatement(build=statement, shipped=shipped)
        self.known_types = known_types


class AnswerCache:
    """Answers by key (a question's shape), the least recently used dropped (see
    :class:`~mltrail.backends.sql.fast.StatementCache`, which weighs keys the same way)."""

    def __init__(self, size: int = 256, *, max_weight: int = 1 << 17, max_entry: int = 8_192):
        self._items: SizedLRU[Any, Answer] = SizedLRU(
            max_total=max_weight, max_entry=max_entry, max_count=size
        )

    def get(
        self,
        key: Any,
        build: Callable[[], list[Any]],
        *,
        known_types: bool = False,
        shipped: Callable[[Any], Compiled | None] | None = None,
    ) -> Answer:
        """The answer of ``key``; ``build`` makes its statement when it must be compiled (not
        when ``shipped`` has its text for the dialect at hand)."""
        answer = self._items.get(key)
        if answer is None:
            answer = Answer(build, known_types=known_types, shipped=shipped)
            self._items.put(key, answer, key_weight(key))
        return answer


def read_answer(
    conn: Connection,
    answer: Answer,
    params: dict[str, Any],
    fields: Collection[str],
    *,
    truncated: bool = False,
) -> LineageGraph:
    """Run the statement of an :class:`Answer` and build its LineageGraph (the cycle
    collector held off meanwhile, see :class:`~mltrail.backends.sql.readers.CollectorPaused`)."""
    with readers.CollectorPaused():
        return _read_answer(conn, answer, params, fields, truncated)


def _read_answer(
    conn: Connection,
    answer: Answer,
    params: dict[str, Any],
    fields: Collection[str],
    truncated: bool,
) -> LineageGraph:
    graph = object.__new__(LineageGraph)  # the other fields are set below
    graph.__dict__.update(
        artifact_types=[], execution_types=[], context_types=[], events=[], truncated=truncated
    )
    rows: tuple[dict[int, Any], dict[int, Any], dict[int, Any]] = ({}, {}, {})
    props: tuple[dict[int, Any], dict[int, Any], dict[int, Any]] = ({}, {}, {})
    types: dict[int, Any] = {}
    type_props: dict[int, dict[str, PropertyType]] = {}
    # Memberships and parent links as (first id, second id) pairs by tag, made objects once sorted.
    pairs: dict[int, list[Any]] = {_ATTRIBUTION: [], _ASSOCIATION: [], _PARENT: []}
    events: list[Any] = []
    artifact_ids: Any = rows[_ARTIFACT].keys()
    context_ids: set[int] = set()
    feed_row = None
    for row in answer.statement.all(conn, params):
        tag = row[0]
        if tag < 3:
            rows[tag][row[1]] = row
        elif tag < 6:
            found = props[tag - 3].get(row[1])
            if found is None:
                found = props[tag - 3][row[1]] = ({}, {})
            value = decode((row[2], row[6], row[8], row[4], row[9]))
            found[1 if row[3] else 0][row[7]] = value
        elif tag == _PACKED:
            packed = json.loads(row[7])
            inner = row[1]
            if inner == _CONTEXT:
                rows[inner].update({r[1]: r for r in packed})
            else:  # attributions, parent links
                pairs[inner].extend([(r[1], r[2]) for r in packed])
        elif tag == _EVENT:
            events.append(row)
        elif tag in pairs:
            pairs[tag].append((row[1], row[2]))
        elif tag == _TYPE:
            types[row[1]] = row
        elif tag == _TYPE_PROPERTY:
            type_props.setdefault(row[1], {})[row[7]] = readers.member(PropertyType, row[2])
        elif tag == _CONTEXT_ID:
            context_ids.add(row[1])
        elif tag == _FEED:
            feed_row = row
        else:
            if not isinstance(artifact_ids, set):
                artifact_ids = set()
            artifact_ids.add(row[1])
    since = params.get("types_since", 0)
    infos = _answer_types(conn, answer, fields, rows, types, type_props, feed_row, since)
    names = {type_id: info.name for type_id, info in infos.items()}
    for (spec, field, _), found, found_props in zip(_KINDS, rows, props):
        build = _BUILD[spec.kind]
        nodes = []
        for node_id in sorted(found):
            row = found[node_id]
            values = found_props.get(node_id)
            own, custom = values if values is not None else ({}, {})
            nodes.append(build(row, names[row[2]], own, custom))
        setattr(graph, field, nodes)
    if "events" in fields:
        events.sort(key=lambda r: r[5])
        to_event = readers.to_event
        graph.events = [
            to_event(r[1], r[2], r[3], r[7], r[4]) for r in events if r[1] in artifact_ids
        ]
    attributions, associations = pairs[_ATTRIBUTION], pairs[_ASSOCIATION]
    for found in (attributions, associations):
        found.sort()
        context_ids.update([c for _, c in found])
    graph.attributions = _links(Attribution, "artifact_id", "context_id", attributions)
    graph.associations = _links(Association, "execution_id", "context_id", associations)
    parents = sorted(p for p in pairs[_PARENT] if p[1] in context_ids)
    graph.parent_contexts = _links(ParentContext, "child_id", "parent_id", parents)
    for field, kind in _TYPE_FIELDS.items():
        if field in fields:
            # Known types: those of the answer's nodes (read whenever their types are wanted).
            used = (
                {row[2] for row in rows[_TYPES_OF[field]].values()}
                if answer.known_types
                else types.keys()
            )
            setattr(
                graph, field, [infos[i].to_model() for i in sorted(used) if infos[i].kind == kind]
            )
    return graph


_TYPES_OF = {types_field: tag for tag, (_, _, types_field) in enumerate(_KINDS)}


def _links(cls: type[Any], first: str, second: str, pairs: list[tuple[int, int]]) -> list[Any]:
    """Frozen link objects (memberships, parent links) of ``pairs``, built without ``__init__``
    (a thousand contexts make a thousand of them)."""
    new = object.__new__
    links = []
    for one, other in pairs:
        link = new(cls)
        link.__dict__.update({first: one, second: other})  # frozen: no __dict__ assignment
        links.append(link)
    return links


def can_know_types(fields: Collection[str]) -> bool:
    """Whether an answer with ``fields`` may use known types: its statement then reads the
    nodes of every kind whose types it returns (their type ids tell which types it uses)."""
    return all(field in fields for _, field, types_field in _KINDS if types_field in fields)


def _answer_types(
    conn: Connection,
    answer: Answer,
    fields: Collection[str],
    rows: tuple[dict[int, Any], ...],
    types: dict[int, Any],
    type_props: dict[int, dict[str, PropertyType]],
    feed_row: Any,
    since: int,
) -> dict[int, readers.TypeInfo]:
    """The types of an answer's nodes by id: read by its statement (and then remembered with
    the feed position, when their properties were read too), or those already known."""
    if answer.known_types:
        needed = {row[2] for found in rows for row in found.values()}
        return _known_types(conn, needed, since, int(feed_row[1]), bool(feed_row[2]))
    infos = {
        type_id: readers.type_info(
            (row[1], row[2], row[7], row[8], row[9], row[10], row[3]), type_props.get(type_id, {})
        )
        for type_id, row in types.items()
    }
    if feed_row is not None and set(fields) & _TYPE_FIELDS.keys() and not types_noted(conn):
        _remember_types(conn, int(feed_row[1]), infos)
    return infos


def _artifact(row: Any, type_name: str, props: Any, custom: Any) -> Any:
    node = object.__new__(Artifact)
    node.__dict__ = {
        "type_id": row[2],
        "type": type_name,
        "name": row[7],
        "external_id": row[8],
        "properties": props,
        "custom_properties": custom,
        "id": row[1],
        "create_time_since_epoch": row[3],
        "last_update_time_since_epoch": row[4],
        "uri": row[9],
        "state": _ARTIFACT_STATES[row[5]] if row[5] is not None else None,
    }
    return node


def _execution(row: Any, type_name: str, props: Any, custom: Any) -> Any:
    node = object.__new__(Execution)
    node.__dict__ = {
        "type_id": row[2],
        "type": type_name,
        "name": row[7],
        "external_id": row[8],
        "properties": props,
        "custom_properties": custom,
        "id": row[1],
        "create_time_since_epoch": row[3],
        "last_update_time_since_epoch": row[4],
        "last_known_state": _EXECUTION_STATES[row[5]] if row[5] is not None else None,
    }
    return node


def _context(row: Any, type_name: str, props: Any, custom: Any) -> Any:
    node = object.__new__(Context)
    node.__dict__ = {
        "type_id": row[2],
        "type": type_name,
        "name": row[7],
        "external_id": row[8],
        "properties": props,
        "custom_properties": custom,
        "id": row[1],
        "create_time_since_epoch": row[3],
        "last_update_time_since_epoch": row[4],
    }
    return node


_ARTIFACT_STATES = {m.value: m for m in ArtifactState}
_EXECUTION_STATES = {m.value: m for m in ExecutionState}
_BUILD: dict[TypeKind, Callable[[Any, str, Any, Any], Any]] = {
    TypeKind.ARTIFACT: _artifact,
    TypeKind.EXECUTION: _execution,
    TypeKind.CONTEXT: _context,
}


# ------------------------------------------------------------------------------------ by id lists

_ANSWERS = AnswerCache()


def _ids_table(name: str, size: int, table: Any) -> Any:
    return (
        select(table.c.id)
        .where(table.c.id.in_([bindparam(f"{name}{i}") for i in range(size)]))
        .cte(f"{name}_ids")
    )


def load_subgraph(
    conn: Connection,
    artifact_ids: Collection[int],
    execution_ids: Collection[int],
    fields: Iterable[str] = GRAPH_FIELDS,
    *,
    truncated: bool = False,
) -> LineageGraph:
    """The graph of these artifacts and executions: them, every event between them, their
    contexts and memberships, the parent links among those contexts, and the types they use.
    ``fields`` limits what is filled (LineageGraph field names)."""
    wanted = frozenset(fields)
    a_ids, e_ids = sorted(set(artifact_ids)), sorted(set(execution_ids))
    if len(a_ids) <= InStatement.MAX and len(e_ids) <= InStatement.MAX:
        # Few enough ids for one statement: the answer's shape over two id lists.
        sizes = (bucket(len(a_ids)), bucket(len(e_ids)))
        joined, packed = joins_ids(conn), packs_rows(conn)
        answer = _ANSWERS.get(
            ("ids", joined, packed, *sizes, wanted),
            lambda: answer_statements(
                _ids_table("a", sizes[0], ARTIFACTS.table),
                _ids_table("e", sizes[1], EXECUTIONS.table),
                wanted,
                joined=joined,
                packed=packed,
            ),
        )
        params = _padded("a", a_ids, sizes[0]) | _padded("e", e_ids, sizes[1])
        return read_answer(conn, answer, params, wanted, truncated=truncated)
    return _load_by_chunks(conn, a_ids, e_ids, wanted, truncated)


def _padded(prefix: str, ids: list[int], size: int) -> dict[str, int]:
    return {f"{prefix}{i}": ids[min(i, len(ids) - 1)] if ids else -1 for i in range(size)}


_ATTRIBUTIONS = InStatement(
    lambda ids: select(_attr.c.context_id, _attr.c.artifact_id).where(_attr.c.artifact_id.in_(ids))
)
_ASSOCIATIONS = InStatement(
    lambda ids: select(_assoc.c.context_id, _assoc.c.execution_id).where(
        _assoc.c.execution_id.in_(ids)
    )
)
_PARENTS = InStatement(
    lambda ids: select(_pc.c.context_id, _pc.c.parent_context_id).where(_pc.c.context_id.in_(ids))
)


def _load_by_chunks(
    conn: Connection,
    artifact_ids: list[int],
    execution_ids: list[int],
    wanted: frozenset[str],
    truncated: bool,
) -> LineageGraph:
    """:func:`load_subgraph` for more ids than one statement takes: id lists in chunks."""
    graph = LineageGraph(truncated=truncated)
    artifacts, executions = readers.artifacts_and_executions(conn, artifact_ids, execution_ids)
    if "events" in wanted and artifact_ids and execution_ids:
        in_answer = set(artifact_ids)
        graph.events = [
            e
            for e in readers.events_of(conn, "execution_id", execution_ids)
            if e.artifact_id in in_answer
        ]
    contexts: list[Any] = []
    if wanted & _CONTEXT_FIELDS:
        attributions = [
            Attribution(artifact_id=a, context_id=c)
            for c, a in (_ATTRIBUTIONS.all(conn, artifact_ids) if artifact_ids else [])
        ]
        associations = [
            Association(execution_id=e, context_id=c)
            for c, e in (_ASSOCIATIONS.all(conn, execution_ids) if execution_ids else [])
        ]
        context_ids = {m.context_id for m in attributions} | {m.context_id for m in associations}
        contexts = readers.nodes_by_ids(conn, CONTEXTS, sorted(context_ids))
        graph.attributions = sorted(attributions, key=lambda m: (m.artifact_id, m.context_id))
        graph.associations = sorted(associations, key=lambda m: (m.execution_id, m.context_id))
        if "parent_contexts" in wanted and len(context_ids) > 1:
            # The links among the answer's contexts.
            graph.parent_contexts = sorted(
                (
                    ParentContext(child_id=child, parent_id=parent)
                    for child, parent in _PARENTS.all(conn, sorted(context_ids))
                    if parent in context_ids
                ),
                key=lambda p: (p.child_id, p.parent_id),
            )
    graph.artifacts, graph.executions, graph.contexts = artifacts, executions, contexts
    typed = {"artifact_types": artifacts, "execution_types": executions, "context_types": contexts}
    type_ids = {n.type_id for field, nodes in typed.items() if field in wanted for n in nodes}
    types = readers.types_by_ids(conn, sorted(type_ids))
    for field, kind in _TYPE_FIELDS.items():
        if field in wanted:
            setattr(graph, field, [t.to_model() for t in types if t.kind == kind])
    for field in GRAPH_FIELDS:
        if field not in wanted:
            setattr(graph, field, [])
    return graph
