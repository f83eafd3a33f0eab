"""What a listing is sorted by: a node column (id, create or update time) or a property value.

Ordered by a property, each node's sort key is ``(kind, value, id)``: ``kind`` ranks numbers (int
and double values compared together), then strings (their first :data:`STRING_PREFIX`
characters), booleans, struct values and, last, nodes without the property. Kinds always come in
that order; the direction applies to values and ids within a kind, so nodes lacking the property
are last both ways. The property is one LEFT JOIN on its (node, name, is_custom) key: at most one
row per node, no query per node.

A page token carries the last row's key; the next page starts strictly after it. NULLs never take
part in a comparison (the kind decides which value column is compared), so the order and the
paging are the same on every backend whatever its NULL ordering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, bindparam, case, func, literal_column, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from mltrail._plain import short
from mltrail.backends.sql.schema import NAME_LENGTH
from mltrail.errors import InvalidArgumentError
from mltrail.model import OrderByField
from mltrail.store._nodes import NodeSpec

_COLUMNS = {
    OrderByField.ID: "id",
    OrderByField.CREATE_TIME: "create_time_since_epoch",
    OrderByField.UPDATE_TIME: "last_update_time_since_epoch",
}
# Position of a column's sort key in a node row (see NodeStatements.node_columns).
_POSITION = {OrderByField.ID: 0, OrderByField.CREATE_TIME: 5, OrderByField.UPDATE_TIME: 6}

NUMBER, STRING, BOOLEAN, STRUCT, MISSING = range(5)
#: Strings are ordered by their first characters only (at most 4 bytes each: within 1024 bytes).
STRING_PREFIX = 255
_KINDS = 5
_PREFIXES = {"properties": False, "custom_properties": True}

_INVALID_TOKEN = (
    "page_token is not a token this store issued; pass the next_page_token of the previous "
    "page unchanged"
)


@dataclass
class SortKeys:
    """The parts of one listing statement that depend on its order."""

    source: FromClause
    columns: list[ColumnElement[Any]] = field(default_factory=list)
    order_by: list[Any] = field(default_factory=list)
    after: ColumnElement[bool] | None = None


def _later(column: Any, value: Any, ascending: bool) -> ColumnElement[bool]:
    return column > value if ascending else column < value


def _direction(column: Any, ascending: bool) -> Any:
    return column.asc() if ascending else column.desc()


@dataclass(frozen=True)
class ColumnOrder:
    """Order by a column of the node table; ties broken by id."""

    field: OrderByField

    @property
    def value(self) -> str:
        return self.field.value

    @property
    def shape(self) -> Any:
        """What the statement depends on (a cache key)."""
        return self.field

    def keys(self, spec: NodeSpec, ascending: bool, token_shape: Any) -> SortKeys:
        t = spec.table
        column = t.c[_COLUMNS[self.field]]
        keys = SortKeys(source=t)
        if self.field is OrderByField.ID:
            keys.order_by = [_direction(t.c.id, ascending)]
        else:
            keys.order_by = [_direction(column, ascending), _direction(t.c.id, ascending)]
        if token_shape is not None:
            last_id = bindparam("token_id", type_=Integer)
            if self.field is OrderByField.ID:
                keys.after = _later(t.c.id, last_id, ascending)
            else:
                value = bindparam("token_value", type_=BigInteger)
                keys.after = or_(
                    _later(column, value, ascending),
                    and_(column == value, _later(t.c.id, last_id, ascending)),
                )
        return keys

    def key_of(self, row: Any, width: int) -> Any:
        return row[_POSITION[self.field]]

    def read_key(self, value: Any) -> tuple[Any, dict[str, Any]]:
        """The statement shape and parameters for a token's key (raises if it is not one)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(_INVALID_TOKEN)
        return "column", {"token_value": value}


@dataclass(frozen=True)
class PropertyOrder:
    """Order by the value of a property (``custom`` for a custom property); see the module."""

    name: str
    custom: bool

    @property
    def value(self) -> str:
        return ("custom_properties." if self.custom else "properties.") + self.name

    @property
    def shape(self) -> Any:
        return "property"  # the name and kind of property are parameters

    def keys(self, spec: NodeSpec, ascending: bool, token_shape: Any) -> SortKeys:
        t = spec.table
        p = spec.props.alias("order_property")
        joined = t.outerjoin(
            p,
            and_(
                p.c.node_id == t.c.id,
                p.c.name == bindparam("order_name"),
                p.c.is_custom == bindparam("order_custom"),
            ),
        )
        kind = case(
            (or_(p.c.int_value.isnot(None), p.c.double_value.isnot(None)), _int(NUMBER)),
            (p.c.string_value.isnot(None), _int(STRING)),
            (p.c.bool_value.isnot(None), _int(BOOLEAN)),
            (p.c.struct_value.isnot(None), _int(STRUCT)),
            else_=_int(MISSING),
        )
        number = func.coalesce(p.c.double_value, p.c.int_value)
        # Strings sort by a prefix: MySQL and MariaDB sort text by its first max_sort_length
        # (1024) bytes only, and the page token's comparison must agree with the sort.
        string = func.substr(p.c.string_value, _int(1), _int(STRING_PREFIX))
        values = {NUMBER: number, STRING: string, BOOLEAN: p.c.bool_value}
        keys = SortKeys(
            source=joined,
            columns=[kind, number, string, p.c.bool_value],
            order_by=[
                kind.asc(),
                *(_direction(v, ascending) for v in values.values()),
                _direction(t.c.id, ascending),
            ],
        )
        if token_shape is not None:
            last_kind: int = token_shape
            later_id = _later(t.c.id, bindparam("token_id", type_=Integer), ascending)
            column = values.get(last_kind)
            if column is None:
                within = later_id
            else:
                token: Any = bindparam("token_value")
                within = or_(_later(column, token, ascending), and_(column == token, later_id))
            keys.after = or_(kind > _int(last_kind), and_(kind == _int(last_kind), within))
        return keys

    def key_of(self, row: Any, width: int) -> Any:
        kind, number, string, boolean = row[width : width + 4]
        value = {
            NUMBER: number,
            STRING: string,
            BOOLEAN: None if boolean is None else bool(boolean),
        }
        return [int(kind), value.get(int(kind))]

    def read_key(self, value: Any) -> tuple[Any, dict[str, Any]]:
        if not isinstance(value, list) or len(value) != 2:
            raise InvalidArgumentError(_INVALID_TOKEN)
        kind, key = value
        if isinstance(kind, bool) or not isinstance(kind, int) or not 0 <= kind < _KINDS:
            raise InvalidArgumentError(_INVALID_TOKEN)
        valid = {
            NUMBER: isinstance(key, (int, float))
            and not isinstance(key, bool)
            and math.isfinite(key),
            STRING: isinstance(key, str),
            BOOLEAN: isinstance(key, bool),
        }.get(kind, key is None)
        if not valid:
            raise InvalidArgumentError(_INVALID_TOKEN)
        params: dict[str, Any] = {} if key is None else {"token_value": key}
        return kind, params

    def params(self) -> dict[str, Any]:
        return {"order_name": self.name, "order_custom": self.custom}


Order = ColumnOrder | PropertyOrder


def _int(value: int) -> Any:
    """An integer written into the SQL (a bound one would need a type on PostgreSQL)."""
    return literal_column(str(int(value)), Integer)


def parse_order(value: Any) -> Order:
    """The order an ``order_by`` option names; InvalidArgumentError if it names none."""
    if isinstance(value, OrderByField):
        return ColumnOrder(value)
    if isinstance(value, str):
        prefix, dot, name = value.partition(".")
        if dot and prefix.lower() in _PREFIXES:
            if not name or len(name) > NAME_LENGTH or "\x00" in name:
                raise InvalidArgumentError(
                    f"order_by {value[:80]!r} needs a property name after '{prefix}.', e.g. "
                    f"'{prefix}.accuracy'"
                )
            return PropertyOrder(name, _PREFIXES[prefix.lower()])
        text = value.lower().replace("last_update", "update")
        for member in OrderByField:
            if text in (member.value, member.name.lower(), member.value + "_since_epoch"):
                return ColumnOrder(member)
    raise InvalidArgumentError(
        f"order_by {short(value)} is not valid; use OrderByField.ID, CREATE_TIME or UPDATE_TIME "
        "('id', 'create_time', 'update_time'), or a property: 'properties.<name>' or "
        "'custom_properties.<name>'"
    )
