"""Artifact, execution and context types: upsert with add-only evolution, lookups, and a cache.

Types are never deleted and their properties are never removed, so a type read once stays right
except for additions made later by other writers. :class:`TypeCache` serves node validation from
memory and reloads a type from the database when a node names a property the cached copy lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from mltrail.backends.sql import feed, readers, schema
from mltrail.backends.sql.fast import InStatement
from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from mltrail.model import (
    ArtifactType,
    ContextType,
    ExecutionType,
    PropertyType,
)
from mltrail.store._args import name_arg, optional_id, storable_ids, text_arg
from mltrail.store._values import enum_value

AnyType = ArtifactType | ExecutionType | ContextType

KIND_NAME = {
    TypeKind.ARTIFACT: "artifact",
    TypeKind.EXECUTION: "execution",
    TypeKind.CONTEXT: "context",
}

T = schema.type_
TP = schema.type_property

# Reading types lives with the SQL backend (the query layer reads them too).
TypeInfo = readers.TypeInfo
TYPE_CLASS, BASE_TYPES = readers.TYPE_CLASS, readers.BASE_TYPES


_properties_by_type = InStatement(
    lambda ids: select(TP.c.type_id, TP.c.name, TP.c.data_type).where(TP.c.type_id.in_(ids))
)


def load_types(conn: Connection, where: ColumnElement[bool]) -> list[TypeInfo]:
    """Types matching ``where`` (on the type table), ordered by id, with their properties."""
    return _with_properties(
        conn, conn.execute(select(*readers.TYPE_COLUMNS).where(where).order_by(T.c.id)).all()
    )


def load_types_by_id(conn: Connection, ids: Iterable[int]) -> list[TypeInfo]:
    """Types with these ids, ordered by id, in one query (the hot path of lookups by id)."""
    return readers.types_by_ids(conn, storable_ids(ids))


def _with_properties(conn: Connection, rows: Sequence[Any]) -> list[TypeInfo]:
    if not rows:
        return []
    props: dict[int, dict[str, PropertyType]] = {row[0]: {} for row in rows}
    for type_id, name, data_type in _properties_by_type.all(conn, list(props)):
        props[type_id][name] = PropertyType(data_type)
    return [readers.type_info(row, props[row[0]]) for row in rows]


class TypeCache:
    """Types by id and by (kind, name, version), filled from committed reads."""

    def __init__(self) -> None:
        self._by_id: dict[int, TypeInfo] = {}
        self._by_key: dict[tuple[TypeKind, str, str], int] = {}

    def clear(self) -> None:
        self._by_id.clear()
        self._by_key.clear()

    def _remember(self, infos: Iterable[TypeInfo]) -> None:
        for info in infos:
            self._by_id[info.id] = info
            self._by_key[(info.kind, info.name, info.version)] = info.id

    def by_id(self, conn: Connection, type_id: int, *, refresh: bool = False) -> TypeInfo | None:
        info = None if refresh else self._by_id.get(type_id)
        if info is None:
            found = load_types_by_id(conn, [type_id])
            self._remember(found)
            info = found[0] if found else None
        return info

    def many_by_id(self, conn: Connection, type_ids: Iterable[int]) -> dict[int, TypeInfo]:
        wanted = set(type_ids)
        missing = [i for i in wanted if i not in self._by_id]
        if missing:
            self._remember(load_types_by_id(conn, missing))
        return {i: self._by_id[i] for i in wanted if i in self._by_id}

    def by_name(
        self, conn: Connection, kind: TypeKind, name: str, version: str = ""
    ) -> TypeInfo | None:
        type_id = self._by_key.get((kind, name, version))
        if type_id is not None:
            return self._by_id[type_id]
        found = load_types(conn, (T.c.kind == kind) & (T.c.name == name) & (T.c.version == version))
        self._remember(found)
        return found[0] if found else None


# ------------------------------------------------------------------------------------------ upsert


def _declared_properties(
    kind: TypeKind, given: Mapping[str, Any] | None
) -> dict[str, PropertyType]:
    if given is not None and not isinstance(given, Mapping):
        raise InvalidArgumentError(
            f"the {KIND_NAME[kind]} type's properties must be a dict of name to PropertyType, "
            f"got {type(given).__name__}"
        )
    out: dict[str, PropertyType] = {}
    for name, ptype in (given or {}).items():
        name_arg(name, f"a property name of the {KIND_NAME[kind]} type", required=True)
        value = enum_value(PropertyType, ptype, f"property {name!r} has type")
        if value == PropertyType.UNKNOWN:
            raise InvalidArgumentError(
                f"property {name!r} has type UNKNOWN; declare INT, DOUBLE, STRING, STRUCT or "
                "BOOLEAN"
            )
        out[name] = value
    return out


def put_type(
    conn: Connection,
    kind: TypeKind,
    given: AnyType,
    *,
    can_add_fields: bool,
    can_omit_fields: bool,
) -> int:
    """Create the type or evolve the stored one with (name, version); returns its id."""
    if not isinstance(given, TYPE_CLASS[kind]):
        raise InvalidArgumentError(
            f"expected a {TYPE_CLASS[kind].__name__}, got {type(given).__name__}"
        )
    name = name_arg(given.name, f"the {KIND_NAME[kind]} type's name", required=True)
    assert name is not None
    version = name_arg(given.version, "the type version") or ""
    external_id = name_arg(given.external_id, "the type external_id")
    given_id = optional_id(given.id, "the type id")
    description = None
    if given.description is not None:
        description = text_arg(given.description, "the type description")
    properties = _declared_properties(kind, given.properties)
    base_enum = BASE_TYPES[kind]
    base_type = getattr(given, "base_type", None)
    base_value = None
    if base_type is not None and base_enum is not None:
        base_value = int(enum_value(base_enum, base_type, "base_type"))

    found = load_types(conn, (T.c.kind == kind) & (T.c.name == name) & (T.c.version == version))
    if given_id is not None and (not found or found[0].id != given_id):
        raise InvalidArgumentError(
            f"{KIND_NAME[kind]} type id {given_id} does not belong to type {name!r}"
            + (f" version {version!r}" if version else "")
            + "; types are identified by name and version, leave id unset"
        )
    if external_id is not None:
        _check_type_external_id(conn, external_id, found[0].id if found else None)
    if not found:
        created = conn.execute(
            insert(T).values(
                kind=kind,
                name=name,
                version=version,
                description=description,
                external_id=external_id,
                base_type=base_value,
            )
        ).inserted_primary_key
        assert created is not None
        type_id = int(created[0])
        _insert_properties(conn, type_id, properties)
        feed.note(conn, feed.TYPE_KIND_OFFSET + kind, [type_id])
        return type_id

    stored = found[0]
    _check_evolution(stored, properties, base_value, can_add_fields, can_omit_fields)
    added = {k: v for k, v in properties.items() if k not in stored.properties}
    _insert_properties(conn, stored.id, added)
    changes: dict[str, Any] = {}
    if external_id is not None and external_id != stored.external_id:
        changes["external_id"] = external_id
    if description is not None and description != stored.description:
        changes["description"] = description
    if base_value is not None and stored.base_type is None:
        changes["base_type"] = base_value
    if changes:
        conn.execute(update(T).where(T.c.id == stored.id).values(**changes))
    if added or changes:
        feed.note(conn, feed.TYPE_KIND_OFFSET + kind, [stored.id])
    return stored.id


def _insert_properties(
    conn: Connection, type_id: int, properties: Mapping[str, PropertyType]
) -> None:
    if properties:
        conn.execute(
            insert(TP),
            [{"type_id": type_id, "name": k, "data_type": int(v)} for k, v in properties.items()],
        )


def _check_type_external_id(conn: Connection, external_id: str, own_id: int | None) -> None:
    row = conn.execute(
        select(T.c.id, T.c.kind, T.c.name).where(T.c.external_id == external_id)
    ).first()
    if row is not None and row.id != own_id:
        raise AlreadyExistsError(
            f"external_id {external_id!r} already belongs to {KIND_NAME[TypeKind(row.kind)]} type "
            f"{row.name!r} (id {row.id}); type external ids are unique across all kinds of types"
        )


def _check_evolution(
    stored: TypeInfo,
    requested: Mapping[str, PropertyType],
    base_value: int | None,
    can_add_fields: bool,
    can_omit_fields: bool,
) -> None:
    what = f"{KIND_NAME[stored.kind]} type {stored.label()} (id {stored.id})"
    for key, ptype in requested.items():
        old = stored.properties.get(key)
        if old is not None and old != ptype:
            raise AlreadyExistsError(
                f"{what} already declares property {key!r} as {old.name}, not {ptype.name}; "
                "property types cannot change: register the type under a new version"
            )
    omitted = sorted(set(stored.properties) - set(requested))
    if omitted and not can_omit_fields:
        raise AlreadyExistsError(
            f"{what} has properties {omitted} that the request omits; pass can_omit_fields=True "
            "to keep them, or register the type under a new version"
        )
    added = sorted(set(requested) - set(stored.properties))
    if added and not can_add_fields:
        raise AlreadyExistsError(
            f"{what} exists without properties {added}; pass can_add_fields=True to add them, "
            "or register the type under a new version"
        )
    if base_value is not None and stored.base_type is not None and base_value != stored.base_type:
        base_enum = BASE_TYPES[stored.kind]
        assert base_enum is not None
        raise AlreadyExistsError(
            f"{what} has base_type {base_enum(stored.base_type).name}; a base type cannot change, "
            "register the type under a new version"
        )


# ----------------------------------------------------------------------------------------- lookups


def get_type(conn: Connection, kind: TypeKind, name: str, version: str | None) -> Any:
    found = load_types(
        conn, (T.c.kind == kind) & (T.c.name == name) & (T.c.version == (version or ""))
    )
    if not found:
        label = f"{name!r}" + (f" version {version!r}" if version else "")
        known = conn.execute(
            select(T.c.name).where(T.c.kind == kind).order_by(T.c.name).distinct().limit(20)
        ).scalars()
        listing = ", ".join(repr(n) for n in known) or "none yet"
        raise NotFoundError(
            f"no {KIND_NAME[kind]} type {label}; known {KIND_NAME[kind]} types: {listing}. "
            f"Create it with put_{KIND_NAME[kind]}_type"
        )
    return found[0].to_model()


def get_types(conn: Connection, kind: TypeKind) -> list[Any]:
    return [info.to_model() for info in load_types(conn, T.c.kind == kind)]


def get_types_by_id(conn: Connection, kind: TypeKind, ids: Sequence[int]) -> list[Any]:
    return [info.to_model() for info in load_types_by_id(conn, ids) if info.kind == kind]


def get_types_by_external_ids(
    conn: Connection, kind: TypeKind, external_ids: Sequence[str]
) -> list[Any]:
    ids = [name_arg(e, "an external_id", required=True) for e in external_ids]
    if not ids:
        return []
    return [
        info.to_model() for info in load_types(conn, (T.c.kind == kind) & T.c.external_id.in_(ids))
    ]
