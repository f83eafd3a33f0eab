"""What a filter's attribute paths name: node kinds, operands and the joins they need."""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lark
from sqlalchemy import Table, and_, bindparam, false, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from mltrail.backends.sql import schema
from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import QuerySyntaxError
from mltrail.model import ArtifactState, EventType, ExecutionState
from mltrail.query._limits import DEFAULT_LIMITS, FilterLimits
from mltrail.query._parse import Literal

# ---------------------------------------------------------------------------------------- operands


class ValueKind(enum.Enum):
    INT = "an integer"
    NUMBER = "a number"
    STRING = "a string"
    BOOL = "TRUE or FALSE"
    ENUM = "a name"
    TYPE_NAME = "a type name (string)"


class Operand:
    """Something a predicate talks about: one or more SQL columns of one value kind."""

    def __init__(
        self,
        label: str,
        kind: ValueKind,
        columns: list[ColumnElement[Any]],
        *,
        enum_cls: type[enum.IntEnum] | None = None,
        presence: ColumnElement[Any] | None = None,
    ) -> None:
        self.label = label
        self.kind = kind
        self.columns = columns
        self.enum_cls = enum_cls
        self.presence = presence
        self.joins: tuple[str, ...] = ()  # keys of the joins this operand reads from

    def positive(self, op: str, values: list[Any]) -> ColumnElement[bool]:
        """The condition where it holds; a missing value makes it false or NULL (never true)."""
        return or_(*[_apply(column, op, values) for column in self.columns])

    def is_null(self) -> ColumnElement[bool]:
        if self.presence is not None:
            return self.presence.is_(None)
        return and_(*[column.is_(None) for column in self.columns])


class TypeNameOperand(Operand):
    """``type`` of a node: compared through the type table."""

    def __init__(self, label: str, type_id: ColumnElement[Any], kind: TypeKind) -> None:
        super().__init__(label, ValueKind.TYPE_NAME, [type_id])
        self.type_kind = kind

    def positive(self, op: str, values: list[Any]) -> ColumnElement[bool]:
        t = schema.type_.alias("type_filter")
        names = select(t.c.id).where(t.c.kind == self.type_kind).where(_apply(t.c.name, op, values))
        return self.columns[0].in_(names)


def _apply(column: ColumnElement[Any], op: str, values: list[Any]) -> ColumnElement[bool]:
    if op == "=":
        return column == values[0]
    if op == "<":
        return column < values[0]
    if op == "<=":
        return column <= values[0]
    if op == ">":
        return column > values[0]
    if op == ">=":
        return column >= values[0]
    if op == "like":
        return column.like(values[0], escape="\\")
    if op == "in":
        # One bound value per element (not SQLAlchemy's expanding IN) keeps the statement
        # compilable once and runnable on the DBAPI cursor.
        return column.in_(values)
    if op == "between":
        return column.between(values[0], values[1])
    raise AssertionError(op)


# -------------------------------------------------------------------------------------- attributes

_COMMON: dict[str, ValueKind] = {
    "id": ValueKind.INT,
    "type_id": ValueKind.INT,
    "name": ValueKind.STRING,
    "external_id": ValueKind.STRING,
    "create_time_since_epoch": ValueKind.INT,
    "last_update_time_since_epoch": ValueKind.INT,
}


@dataclass(frozen=True)
class NodeKind:
    kind: TypeKind
    label: str
    table: Table
    props: Table
    columns: dict[str, ValueKind]
    enums: dict[str, type[enum.IntEnum]]
    neighbours: tuple[str, ...]

    def attribute_names(self) -> list[str]:
        names = [*self.columns, "type", "properties.<name>", "custom_properties.<name>"]
        return names + [f"{n}_<alias>.<attribute>" for n in self.neighbours]


KINDS: dict[TypeKind, NodeKind] = {
    TypeKind.ARTIFACT: NodeKind(
        TypeKind.ARTIFACT,
        "artifact",
        schema.artifact,
        schema.artifact_property,
        {**_COMMON, "uri": ValueKind.STRING, "state": ValueKind.ENUM},
        {"state": ArtifactState},
        ("contexts", "events"),
    ),
    TypeKind.EXECUTION: NodeKind(
        TypeKind.EXECUTION,
        "execution",
        schema.execution,
        schema.execution_property,
        {**_COMMON, "last_known_state": ValueKind.ENUM},
        {"last_known_state": ExecutionState},
        ("contexts", "events"),
    ),
    TypeKind.CONTEXT: NodeKind(
        TypeKind.CONTEXT,
        "context",
        schema.context,
        schema.context_property,
        dict(_COMMON),
        {},
        ("parent_contexts", "child_contexts", "artifacts", "executions"),
    ),
}

NEIGHBOUR = re.compile(
    r"^(parent_contexts|child_contexts|contexts|artifacts|executions|events)_(\w+)$"
)
_SLOTS = {
    "int_value": ValueKind.INT,
    "double_value": ValueKind.NUMBER,
    "string_value": ValueKind.STRING,
    "bool_value": ValueKind.BOOL,
}


class Scope:
    """The FROM clause being built: the node table and the joins the query needs.

    Joins are LEFT JOINs (a node without the related row still gets a verdict) except for those
    a top-level positive condition needs anyway: those become inner joins, which lets the
    database start from the selective side (find the context by name, then its artifacts).
    """

    def __init__(
        self,
        kind: NodeKind,
        text: str,
        base: Any,
        prefix: str,
        limits: FilterLimits = DEFAULT_LIMITS,
    ) -> None:
        self.kind = kind
        self.text = text
        self.base = base
        self.prefix = prefix
        self.limits = limits
        self.conditions = 0
        self.where: Any = None  # the position of the attribute being resolved
        self.params: dict[str, Any] = {}
        self.neighbours: dict[str, tuple[Any, NodeKind | None]] = {}
        self.props: dict[tuple[str, str, bool], Any] = {}
        self.required: set[str] = set()
        self._joins: list[tuple[str, Any, ColumnElement[bool]]] = []
        self._owners: dict[str, str] = {}  # property join key -> neighbour key it hangs on
        self._count = 0
        self._key = ""

    @property
    def joined(self) -> bool:
        return bool(self._joins)

    @property
    def from_(self) -> Any:
        required = set(self.required)
        required.update(self._owners[k] for k in self.required if self._owners.get(k))
        chain = self.base
        for key, alias, on in self._joins:
            chain = chain.join(alias, on) if key in required else chain.outerjoin(alias, on)
        return chain

    def param(self, value: Any) -> Any:
        """A bound parameter named by its position, so that filters of one shape share SQL."""
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return bindparam(name, value)

    def _alias(self, table: Table) -> Any:
        self._count += 1
        return alias(table, f"j{self._count}")

    def _join(self, table: Table, on: Callable[[Any], ColumnElement[bool]]) -> Any:
        limit = self.limits.max_joins
        if len(self._joins) >= limit:
            raise query_error(
                self,
                f"the query needs more than {limit} joins here (the join limit); each "
                "neighbour alias takes two, each distinct property one",
                self.where,
                "use fewer neighbour aliases or properties, or reuse an alias for conditions on "
                "the same related node",
            )
        alias = self._alias(table)
        self._joins.append((self._key, alias, on(alias)))
        return alias

    def neighbour(self, prefix: str, alias_name: str) -> tuple[Any, NodeKind | None]:
        found = self.neighbours.get(alias_name)
        if found is not None:
            return found
        limit = self.limits.max_aliases
        if len(self.neighbours) >= limit:
            raise query_error(
                self,
                f"{alias_name} would be neighbour alias number {limit + 1}; a query may use at "
                f"most {limit} (the alias limit)",
                self.where,
                "conditions on one related node share one alias (contexts_a.name = 'x' AND "
                "contexts_a.type = 'Run'); split the question into several listings",
            )
        base, kind = self.base, self.kind.kind
        self._key = alias_name
        result: tuple[Any, NodeKind | None]
        if prefix == "events":
            column = "artifact_id" if kind == TypeKind.ARTIFACT else "execution_id"
            event = self._join(schema.event, lambda e: e.c[column] == base.c.id)
            result = (event, None)
        elif prefix == "contexts":
            link = schema.attribution if kind == TypeKind.ARTIFACT else schema.association
            member = "artifact_id" if kind == TypeKind.ARTIFACT else "execution_id"
            edge = self._join(link, lambda e: e.c[member] == base.c.id)
            node = self._join(schema.context, lambda c: c.c.id == edge.c.context_id)
            result = (node, KINDS[TypeKind.CONTEXT])
        elif prefix in ("parent_contexts", "child_contexts"):
            near, far = (
                ("context_id", "parent_context_id")
                if prefix == "parent_contexts"
                else ("parent_context_id", "context_id")
            )
            edge = self._join(schema.parent_context, lambda e: e.c[near] == base.c.id)
            node = self._join(schema.context, lambda c: c.c.id == edge.c[far])
            result = (node, KINDS[TypeKind.CONTEXT])
        else:
            target = TypeKind.ARTIFACT if prefix == "artifacts" else TypeKind.EXECUTION
            link = schema.attribution if prefix == "artifacts" else schema.association
            member = "artifact_id" if prefix == "artifacts" else "execution_id"
            edge = self._join(link, lambda e: e.c.context_id == base.c.id)
            node = self._join(KINDS[target].table, lambda n: n.c.id == edge.c[member])
            result = (node, KINDS[target])
        self.neighbours[alias_name] = result
        return result

    def prop(self, owner_key: str, owner: Any, kind: NodeKind, name: str, custom: bool) -> Any:
        key = (owner_key, name, custom)
        alias = self.props.get(key)
        if alias is None:
            self._key = prop_key(owner_key, name, custom)
            self._owners[self._key] = owner_key
            alias = self.props[key] = self._join(
                kind.props,
                lambda p: and_(
                    p.c.node_id == owner.c.id,
                    p.c.name == name,
                    p.c.is_custom == (true() if custom else false()),
                ),
            )
        return alias


_ALIASES: dict[tuple[str, str], Any] = {}


def alias(table: Table, name: str) -> Any:
    """The alias ``name`` of ``table``, made once: an alias builds its columns on first use,
    and a filter's joins are named by their position (j1, j2...), so filters share them. Each
    name stands once in a filter's subquery, which is never nested in another one's."""
    key = (table.name, name)
    found = _ALIASES.get(key)
    if found is None:
        found = _ALIASES[key] = table.alias(name)
    return found


def prop_key(owner_key: str, name: str, custom: bool) -> str:
    return f"{owner_key}|{'custom_properties' if custom else 'properties'}|{name}"


def query_error(scope: Scope, message: str, meta: Any, hint: str = "") -> QuerySyntaxError:
    line = getattr(meta, "line", 1) or 1
    column = getattr(meta, "column", 1) or 1
    return QuerySyntaxError(message, query=scope.text, line=line, column=column, hint=hint)


def _suggest(word: str, options: list[str]) -> str:
    same = [option for option in options if option.lower() == word.lower()]
    close = same or difflib.get_close_matches(word, options, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def part_text(part: Any) -> str:
    text = str(part)
    return text[1:-1] if text.startswith("`") else text


def resolve(scope: Scope, tree: lark.Tree[Any], short_kind: str | None) -> Operand:
    """The operand an attribute path names. ``short_kind`` is the literal kind for short forms."""
    scope.where = tree.meta
    operand = _resolve_path(scope, tree, short_kind)
    parts = [part_text(p) for p in tree.children]
    keys = []
    if NEIGHBOUR.match(parts[0]) and parts[0] not in scope.kind.columns:
        keys.append(parts[0])
        parts = parts[1:]
    if parts and parts[0] in ("properties", "custom_properties") and len(parts) > 1:
        keys.append(prop_key(keys[0] if keys else "", parts[1], parts[0] == "custom_properties"))
    operand.joins = tuple(keys)
    return operand


def _resolve_path(scope: Scope, tree: lark.Tree[Any], short_kind: str | None) -> Operand:
    parts = [part_text(p) for p in tree.children]
    label = ".".join(str(p) for p in tree.children)
    owner, kind, owner_key, rest = scope.base, scope.kind, "", parts
    match = NEIGHBOUR.match(parts[0])
    if match and parts[0] not in kind.columns:
        prefix = match.group(1)
        if prefix not in kind.neighbours:
            allowed = ", ".join(f"{n}_<alias>" for n in kind.neighbours)
            raise query_error(
                scope,
                f"{prefix}_<alias> is not a neighbour of {kind.label}s",
                tree.meta,
                f"{kind.label} filters can use {allowed}",
            )
        if len(parts) < 2:
            raise query_error(
                scope,
                f"{parts[0]} needs an attribute",
                tree.meta,
                f"e.g. {parts[0]}.name = 'x'"
                if prefix != "events"
                else f"e.g. {parts[0]}.type = INPUT",
            )
        joined, neighbour_kind = scope.neighbour(prefix, parts[0])
        owner_key, rest = parts[0], parts[1:]
        if neighbour_kind is None:
            return _event_operand(scope, tree, joined, rest, label)
        owner, kind = joined, neighbour_kind
    head = rest[0]
    if head in ("properties", "custom_properties"):
        return _property_operand(scope, tree, owner, owner_key, kind, rest, label, short_kind)
    if len(rest) == 1:
        if head == "type":
            return TypeNameOperand(label, owner.c.type_id, kind.kind)
        value_kind = kind.columns.get(head)
        if value_kind is not None:
            return Operand(label, value_kind, [owner.c[head]], enum_cls=kind.enums.get(head))
    options = [*kind.columns, "type", "properties", "custom_properties"]
    if not owner_key:
        options += [f"{n}_" for n in kind.neighbours]
    raise query_error(
        scope,
        f"unknown attribute {label!r} for {'a neighbour ' if owner_key else ''}{kind.label}s",
        tree.meta,
        _suggest(head, options) + "valid: " + ", ".join(kind.attribute_names()),
    )


def _event_operand(
    scope: Scope, tree: lark.Tree[Any], event: Any, rest: list[str], label: str
) -> Operand:
    other = "execution_id" if scope.kind.kind == TypeKind.ARTIFACT else "artifact_id"
    fields: dict[str, ValueKind] = {
        "type": ValueKind.ENUM,
        "milliseconds_since_epoch": ValueKind.INT,
        other: ValueKind.INT,
    }
    if len(rest) == 1 and rest[0] in fields:
        column = event.c[rest[0]]
        enum_cls = EventType if rest[0] == "type" else None
        return Operand(label, fields[rest[0]], [column], enum_cls=enum_cls)
    raise query_error(
        scope,
        f"unknown event attribute {label!r}",
        tree.meta,
        _suggest(rest[0], list(fields))
        + f"events of {'an' if scope.kind.label[0] in 'aeiou' else 'a'} {scope.kind.label} have "
        + ", ".join(fields),
    )


def _property_operand(
    scope: Scope,
    tree: lark.Tree[Any],
    owner: Any,
    owner_key: str,
    kind: NodeKind,
    rest: list[str],
    label: str,
    short_kind: str | None,
) -> Operand:
    custom = rest[0] == "custom_properties"
    if len(rest) < 2 or len(rest) > 3:
        raise query_error(
            scope,
            f"{label!r} must name one property",
            tree.meta,
            f"write {rest[0]}.<name> or {rest[0]}.<name>.<int_value|double_value|string_value|"
            "bool_value>; quote odd names with backticks",
        )
    prop = scope.prop(owner_key, owner, kind, rest[1], custom)
    if len(rest) == 3:
        slot = rest[2]
        if slot not in _SLOTS:
            hint = "struct values cannot be filtered; " if slot == "struct_value" else ""
            raise query_error(
                scope,
                f"{slot!r} is not a value slot",
                tree.meta,
                hint + _suggest(slot, list(_SLOTS)) + "use " + ", ".join(_SLOTS),
            )
        return Operand(label, _SLOTS[slot], [prop.c[slot]], presence=None)
    if short_kind == "number":
        columns = [prop.c.int_value, prop.c.double_value]
        return Operand(label, ValueKind.NUMBER, columns, presence=prop.c.node_id)
    if short_kind == "bool":
        return Operand(label, ValueKind.BOOL, [prop.c.bool_value], presence=prop.c.node_id)
    return Operand(label, ValueKind.STRING, [prop.c.string_value], presence=prop.c.node_id)


def convert(scope: Scope, operand: Operand, literal: Literal) -> Any:
    kind = operand.kind
    where = type("Meta", (), {"line": literal.line, "column": literal.column})
    if kind == ValueKind.ENUM:
        assert operand.enum_cls is not None
        names = [m.name for m in operand.enum_cls]
        if literal.kind in ("bare", "string"):
            member = operand.enum_cls.__members__.get(str(literal.value).upper())
            if member is not None:
                return int(member)
        raise query_error(
            scope,
            f"{literal.value!r} is not a value of {operand.label}",
            where,
            _suggest(str(literal.value).upper(), names) + "use one of " + ", ".join(names),
        )
    if literal.kind == "bare":
        raise query_error(
            scope,
            f"{literal.value!r} is not a value",
            where,
            f"quote strings: {operand.label} = '{literal.value}'; attributes can only be compared "
            "with values",
        )
    if kind in (ValueKind.STRING, ValueKind.TYPE_NAME):
        if literal.kind == "string":
            return literal.value
        raise query_error(
            scope,
            f"{operand.label} holds strings, not {_describe(literal)}",
            where,
            f"quote the value: {operand.label} = '{literal.value}'",
        )
    if kind == ValueKind.BOOL:
        if literal.kind == "bool":
            return literal.value
        raise query_error(
            scope, f"{operand.label} holds TRUE or FALSE, not {_describe(literal)}", where
        )
    if literal.kind != "number":
        hint = ""
        if operand.label.endswith(("int_value", "double_value")):
            hint = (
                "compare string values with .string_value, or use the short form properties.<name>"
            )
        raise query_error(
            scope, f"{operand.label} holds numbers, not {_describe(literal)}", where, hint
        )
    if kind == ValueKind.INT and isinstance(literal.value, float):
        hint = ""
        if operand.label.endswith(".int_value"):
            base = operand.label[: -len(".int_value")]
            hint = f"decimal values are in {base}.double_value (or use the short form {base})"
        if hint:
            raise query_error(
                scope, f"{operand.label} holds integers, not {literal.value}", where, hint
            )
    return literal.value


def _describe(literal: Literal) -> str:
    return {"string": "a string", "number": "a number", "bool": "TRUE/FALSE"}.get(
        literal.kind, repr(literal.value)
    )
