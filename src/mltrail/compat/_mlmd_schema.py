"""MLMD's physical schema (version 10) as SQLAlchemy tables, and the checks an MLMD database
passes before anything of it is imported: its schema version, its tables, and that its rows hold
together (every reference resolves, every value fits its declared type).

Each check is one set-based query that returns the first offending row, so a database of any size
is checked in a few statements, and the error names the record at fault.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    and_,
    exists,
    func,
    inspect,
    not_,
    or_,
    select,
)
from sqlalchemy.engine import Dialect as SADialect

from mltrail.errors import FailedPreconditionError, InvalidArgumentError, SchemaVersionError

#: The MLMD schema version this import reads (ML Metadata 1.11 to 1.17).
SCHEMA_VERSION = 10
#: Longest name, version and external id mltrail stores (MLMD declares VARCHAR(255) too).
NAME_LENGTH = 255


def _mysql_latin1() -> dict[str, int]:
    """MySQL's ``latin1`` (Windows-1252, with its five unassigned bytes kept as the same code
    points): character -> byte."""
    table = {}
    for byte in range(256):
        try:
            char = bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            char = chr(byte)
        table[char] = byte
    return table


_LATIN1 = _mysql_latin1()


def as_mlmd_reads(text: str) -> str:
    """Text of a MySQL database as ML Metadata reads it back.

    ML Metadata's MySQL client talks ``latin1``: the UTF-8 bytes it writes are stored as
    latin1 characters ("✓" as "âœ“") and come back as the same bytes. Text that reads as such
    bytes of valid UTF-8 is decoded so; any other text (written by another client) is kept."""
    if text.isascii():
        return text
    try:
        return bytes(_LATIN1[char] for char in text).decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return text


class Text(TypeDecorator[str]):
    """A text column of an MLMD table (see :func:`as_mlmd_reads` for MySQL)."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: SADialect) -> str | None:
        if value is None or dialect.name != "mysql":
            return value
        return as_mlmd_reads(value)


_meta = MetaData()

TYPE = Table(
    "Type",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("name", Text),
    Column("version", Text),
    Column("type_kind", Integer),
    Column("description", Text),
    Column("external_id", Text),
)
TYPE_PROPERTY = Table(
    "TypeProperty",
    _meta,
    Column("type_id", Integer),
    Column("name", Text),
    Column("data_type", Integer),
)
PARENT_TYPE = Table(
    "ParentType", _meta, Column("type_id", Integer), Column("parent_type_id", Integer)
)


def _node_table(name: str, *extra: Column[Any]) -> Table:
    return Table(
        name,
        _meta,
        Column("id", Integer, primary_key=True),
        Column("type_id", Integer),
        *extra,
        Column("name", Text),
        Column("external_id", Text),
        Column("create_time_since_epoch", Integer),
        Column("last_update_time_since_epoch", Integer),
    )


def _property_table(name: str, node: str) -> Table:
    return Table(
        name,
        _meta,
        Column(node, Integer),
        Column("name", Text),
        Column("is_custom_property", Boolean),
        Column("int_value", Integer),
        Column("double_value", Float),
        Column("string_value", Text),
        Column("byte_value", LargeBinary),
        Column("proto_value", LargeBinary),
        Column("bool_value", Boolean),
    )


ARTIFACT = _node_table("Artifact", Column("uri", Text), Column("state", Integer))
EXECUTION = _node_table("Execution", Column("last_known_state", Integer))
CONTEXT = _node_table("Context")
ARTIFACT_PROPERTY = _property_table("ArtifactProperty", "artifact_id")
EXECUTION_PROPERTY = _property_table("ExecutionProperty", "execution_id")
CONTEXT_PROPERTY = _property_table("ContextProperty", "context_id")
EVENT = Table(
    "Event",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("artifact_id", Integer),
    Column("execution_id", Integer),
    Column("type", Integer),
    Column("milliseconds_since_epoch", Integer),
)
EVENT_PATH = Table(
    "EventPath",
    _meta,
    Column("event_id", Integer),
    Column("is_index_step", Boolean),
    Column("step_index", Integer),
    Column("step_key", Text),
)
ASSOCIATION = Table(
    "Association",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("context_id", Integer),
    Column("execution_id", Integer),
)
ATTRIBUTION = Table(
    "Attribution",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("context_id", Integer),
    Column("artifact_id", Integer),
)
PARENT_CONTEXT = Table(
    "ParentContext", _meta, Column("context_id", Integer), Column("parent_context_id", Integer)
)
ENV = Table("MLMDEnv", _meta, Column("schema_version", Integer))

TABLES = tuple(_meta.tables)

#: MLMD's ``Type.type_kind`` of each node table.
KIND_OF = {"Execution": 0, "Artifact": 1, "Context": 2}
#: Each node table with its property table and the property table's node column.
NODES: dict[str, tuple[Table, Table, str]] = {
    "Context": (CONTEXT, CONTEXT_PROPERTY, "context_id"),
    "Artifact": (ARTIFACT, ARTIFACT_PROPERTY, "artifact_id"),
    "Execution": (EXECUTION, EXECUTION_PROPERTY, "execution_id"),
}
#: The value columns of a property row that an MLMD ``Value`` maps to.
VALUE_COLUMNS = ("int_value", "double_value", "string_value", "proto_value", "bool_value")
#: MLMD's PropertyType numbers: INT, DOUBLE, STRING, STRUCT, PROTO, BOOLEAN.
PROPERTY_TYPES = {1: "INT", 2: "DOUBLE", 3: "STRING", 4: "STRUCT", 5: "PROTO", 6: "BOOLEAN"}
_STATES = {"state": range(7), "last_known_state": range(7)}
_EVENT_TYPES = range(1, 8)  # UNKNOWN (0) is refused by MLMD and by mltrail


# ------------------------------------------------------------------------------------- version


def check_schema(conn: Connection, where: str) -> None:
    """Refuse a database that is not MLMD's, or not at schema version 10."""
    present = set(inspect(conn).get_table_names())
    missing = [name for name in TABLES if name not in present]
    if len(missing) == len(TABLES):
        raise FailedPreconditionError(
            f"{where} is not an ML Metadata database: it has none of MLMD's tables (Type, "
            "Artifact, Execution, Context, Event, MLMDEnv...); give the file or database that "
            "ML Metadata (TFX, Kubeflow Pipelines, CMF) writes to"
        )
    if missing == ["MLMDEnv"]:
        raise SchemaVersionError(
            f"{where} has MLMD's tables but no MLMDEnv table: it was written by ML Metadata "
            f"0.13 or older (schema version 0); this import reads schema version {SCHEMA_VERSION}"
            ": upgrade it first by opening it once with ML Metadata 1.11 or newer "
            "(MetadataStore(config, enable_upgrade_migration=True))",
            database_version=0,
            library_version=SCHEMA_VERSION,
        )
    if missing:
        raise FailedPreconditionError(
            f"{where} is not a complete ML Metadata database: table(s) {', '.join(missing)} "
            "are missing; restore the database, or open it once with ML Metadata to let it "
            "create them"
        )
    versions = [row[0] for row in conn.execute(select(ENV.c.schema_version))]
    if len(versions) != 1:
        raise FailedPreconditionError(
            f"{where}'s MLMDEnv table holds {len(versions)} schema versions instead of one: "
            "the database is damaged; restore it from a backup"
        )
    found = versions[0]
    if found != SCHEMA_VERSION:
        advice = (
            "upgrade it first by opening it once with ML Metadata 1.11 or newer "
            "(MetadataStore(config, enable_upgrade_migration=True))"
            if found < SCHEMA_VERSION
            else "it was written by an ML Metadata newer than 1.17, which this import does not "
            "know yet"
        )
        raise SchemaVersionError(
            f"{where} has MLMD schema version {found}; this import reads schema version "
            f"{SCHEMA_VERSION} (ML Metadata 1.11 to 1.17): {advice}",
            database_version=int(found),
            library_version=SCHEMA_VERSION,
        )


# --------------------------------------------------------------------------------- consistency

Check = tuple[Any, Callable[[Any], str]]  # a query of offending rows, and what to say of one


def _missing(table: Table, column: Any) -> Any:
    """Rows of ``table``'s referencing ``column`` that name no row of ``table``."""
    return not_(exists().where(table.c.id == column))


def _too_long(column: Any) -> Any:
    return func.length(column) > NAME_LENGTH


def _checks() -> list[Check]:
    checks: list[Check] = []
    tp, t = TYPE_PROPERTY, TYPE
    checks.append(
        (
            select(t.c.id, t.c.name, t.c.type_kind).where(
                or_(t.c.type_kind.not_in([0, 1, 2]), t.c.type_kind.is_(None))
            ),
            lambda r: f"type {r.name!r} (Type id {r.id}) has an unknown type_kind {r.type_kind}",
        )
    )
    checks.append(
        (
            select(t.c.id, t.c.name).where(
                or_(
                    t.c.name == "",
                    _too_long(t.c.name),
                    _too_long(t.c.version),
                    _too_long(t.c.external_id),
                )
            ),
            lambda r: (
                f"type {r.name!r} (Type id {r.id}) has an empty name, or a name, version "
                f"or external_id longer than {NAME_LENGTH} characters"
            ),
        )
    )
    checks.append(
        (
            select(tp.c.type_id, tp.c.name, tp.c.data_type, t.c.name.label("type"))
            .join(t, t.c.id == tp.c.type_id, isouter=True)
            .where(or_(tp.c.data_type.not_in(list(PROPERTY_TYPES)), tp.c.data_type.is_(None))),
            lambda r: (
                f"type {r.type!r} (Type id {r.type_id}) declares property {r.name!r} with "
                f"an unknown value type {r.data_type} (known: "
                + ", ".join(f"{n} {k}" for k, n in PROPERTY_TYPES.items())
                + ")"
            ),
        )
    )
    for label, (table, props, node) in NODES.items():
        checks += _node_checks(label, table, props, node)
    e = EVENT
    checks.append(
        (
            select(e.c.id, e.c.artifact_id, e.c.execution_id, e.c.type).where(
                or_(
                    _missing(ARTIFACT, e.c.artifact_id),
                    _missing(EXECUTION, e.c.execution_id),
                    e.c.type.not_in(list(_EVENT_TYPES)),
                    e.c.type.is_(None),
                )
            ),
            lambda r: (
                f"Event {r.id} (artifact {r.artifact_id}, execution {r.execution_id}, "
                f"type {r.type}) names an artifact or execution that does not exist, or has an "
                "unknown event type"
            ),
        )
    )
    p = EVENT_PATH
    checks.append(
        (
            select(p.c.event_id, p.c.is_index_step).where(
                or_(
                    _missing(EVENT, p.c.event_id),
                    and_(p.c.is_index_step.is_(True), p.c.step_index.is_(None)),
                    and_(p.c.is_index_step.is_not(True), p.c.step_key.is_(None)),
                )
            ),
            lambda r: (
                f"an EventPath step of event {r.event_id} belongs to no event, or lacks "
                "its index or key"
            ),
        )
    )
    for table, member, of, kind in (
        (ATTRIBUTION, "artifact_id", ARTIFACT, "artifact"),
        (ASSOCIATION, "execution_id", EXECUTION, "execution"),
    ):
        checks.append(
            (
                select(table.c.id, table.c.context_id, table.c[member].label("member")).where(
                    or_(_missing(CONTEXT, table.c.context_id), _missing(of, table.c[member]))
                ),
                functools.partial(_membership_fault, table.name, kind),
            )
        )
    pc = PARENT_CONTEXT
    checks.append(
        (
            select(pc.c.context_id, pc.c.parent_context_id).where(
                or_(
                    _missing(CONTEXT, pc.c.context_id),
                    _missing(CONTEXT, pc.c.parent_context_id),
                    pc.c.context_id == pc.c.parent_context_id,
                )
            ),
            lambda r: (
                f"ParentContext (context {r.context_id}, parent {r.parent_context_id}) "
                "names a context that does not exist, or makes a context its own parent"
            ),
        )
    )
    return checks


def _node_checks(label: str, table: Table, props: Table, node: str) -> list[Check]:
    t = TYPE
    checks: list[Check] = []
    of_kind = exists().where(and_(t.c.id == table.c.type_id, t.c.type_kind == KIND_OF[label]))
    checks.append(
        (
            select(table.c.id, table.c.type_id).where(not_(of_kind)),
            lambda r: (
                f"{label} {r.id} has type_id {r.type_id}, which is no "
                f"{label.lower()} type of the database"
            ),
        )
    )
    bad_text = or_(_too_long(table.c.name), _too_long(table.c.external_id))
    if label == "Context":
        bad_text = or_(bad_text, table.c.name.is_(None), table.c.name == "")
    checks.append(
        (
            select(table.c.id, table.c.name).where(bad_text),
            lambda r: (
                f"{label} {r.id} (name {str(r.name)[:60]!r}) has a name or external_id "
                f"longer than {NAME_LENGTH} characters"
                + (", or no name (a context needs one)" if label == "Context" else "")
            ),
        )
    )
    for column, allowed in _STATES.items():
        if column in table.c:
            checks.append(
                (
                    select(table.c.id, table.c[column].label("state")).where(
                        table.c[column].not_in(list(allowed))
                    ),
                    functools.partial(_state_fault, label, column),
                )
            )
    p = props
    declared = select(TYPE_PROPERTY.c.data_type).where(
        and_(
            TYPE_PROPERTY.c.type_id == table.c.type_id,
            TYPE_PROPERTY.c.name == p.c.name,
        )
    )
    declared_type = declared.scalar_subquery()
    struct = and_(p.c.string_value.is_not(None), p.c.string_value.like("mlmd-struct::%"))
    fits = or_(
        and_(declared_type == 1, p.c.int_value.is_not(None)),
        and_(declared_type == 2, p.c.double_value.is_not(None)),
        and_(declared_type == 3, p.c.string_value.is_not(None), not_(struct)),
        and_(declared_type == 4, struct),
        and_(declared_type == 5, p.c.proto_value.is_not(None)),
        and_(declared_type == 6, p.c.bool_value.is_not(None)),
    )
    no_value = and_(*[p.c[c].is_(None) for c in VALUE_COLUMNS])
    checks.append(
        (
            select(
                p.c[node].label("node"),
                p.c.name,
                p.c.is_custom_property.label("custom"),
                table.c.id.label("found"),
                declared_type.label("declared"),
                no_value.label("empty"),
            )
            .join(table, table.c.id == p.c[node], isouter=True)
            .where(
                or_(
                    table.c.id.is_(None),
                    _too_long(p.c.name),
                    no_value,
                    func.abs(p.c.double_value) > 1.7976931348623157e308,
                    and_(
                        p.c.is_custom_property.is_not(True),
                        or_(declared_type.is_(None), not_(fits)),
                    ),
                )
            ),
            lambda r: _property_fault(label, r),
        )
    )
    return checks


def _membership_fault(name: str, kind: str, r: Any) -> str:
    return (
        f"{name} {r.id} (context {r.context_id}, {kind} {r.member}) names a node that does "
        "not exist"
    )


def _state_fault(label: str, column: str, r: Any) -> str:
    return f"{label} {r.id} has an unknown {column} {r.state}"


def _property_fault(label: str, r: Any) -> str:
    what = f"{'custom ' if r.custom else ''}property {r.name!r} of {label} {r.node}"
    if r.found is None:
        return f"{what} belongs to no {label.lower()} ({label} {r.node} does not exist)"
    if len(r.name) > NAME_LENGTH:
        return f"{what} has a name longer than {NAME_LENGTH} characters"
    if r.empty:
        return f"{what} has no value (every value column is NULL)"
    if not r.custom and r.declared is None:
        return f"{what} is not declared by the {label.lower()}'s type"
    if not r.custom:
        declared = PROPERTY_TYPES.get(r.declared, r.declared)
        return f"{what} holds a value that is not of its declared type {declared}"
    return f"{what} holds a number that is not finite"


_CHECKS: list[Check] = []


def check_consistency(conn: Connection, where: str) -> None:
    """Refuse a database whose rows do not hold together, naming the first record at fault."""
    if not _CHECKS:
        _CHECKS.extend(_checks())
    for query, say in _CHECKS:
        row = conn.execute(query.limit(1)).first()
        if row is not None:
            raise InvalidArgumentError(
                f"{where} is inconsistent: {say(row)}; nothing was imported. ML Metadata does "
                "not write such rows: fix or remove the record (or restore the database from a "
                "backup) and import again"
            )
