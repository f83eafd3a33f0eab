"""Listings: ordering, limits and keyset page tokens.

A page token records the order it was made for, a digest of the query it belongs to (the scope
and the filter) and the sort key of the last row returned. The next page starts strictly after
that key, so rows inserted between two pages never shift or repeat what was already returned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, and_, bindparam, or_, select
from sqlalchemy.sql.elements import ColumnElement

from mltrail.backends.sql import schema
from mltrail.backends.sql.fast import InStatement, StatementCache
from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import InvalidArgumentError
from mltrail.model import ListOptions, OrderByField, ResultPage
from mltrail.query.filters import CompiledFilter, analyze
from mltrail.store._filter_types import check_filter_types
from mltrail.store._nodes import NodeSpec, hydrate, hydrate_with, node_select
from mltrail.store._statements import node_statements

_ORDER_COLUMNS = {
    OrderByField.ID: "id",
    OrderByField.CREATE_TIME: "create_time_since_epoch",
    OrderByField.UPDATE_TIME: "last_update_time_since_epoch",
}


_OPTION_NAMES = ("filter_query", "order_by", "ascending", "limit", "page_token")


def merge_options(list_options: ListOptions | None, options: dict[str, Any]) -> ListOptions:
    """One :class:`ListOptions` from an options object and/or keyword arguments (which win)."""
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise InvalidArgumentError(
            f"unknown listing option(s) {unknown}; use " + ", ".join(_OPTION_NAMES)
        )
    filter_query = options.get("filter_query")
    order_by = options.get("order_by")
    ascending = options.get("ascending")
    limit = options.get("limit")
    page_token = options.get("page_token")
    base = list_options or ListOptions()
    if not isinstance(base, ListOptions):
        raise InvalidArgumentError(f"list_options must be a ListOptions, got {type(base).__name__}")
    return ListOptions(
        limit=limit if limit is not None else base.limit,
        order_by=order_by if order_by is not None else base.order_by,
        is_asc=ascending if ascending is not None else base.is_asc,
        filter_query=filter_query if filter_query is not None else base.filter_query,
        page_token=page_token if page_token is not None else base.page_token,
    )


def _order_field(value: OrderByField | str) -> OrderByField:
    if isinstance(value, OrderByField):
        return value
    text = str(value).lower().replace("last_update", "update")
    for member in OrderByField:
        if text in (member.value, member.name.lower(), member.value + "_since_epoch"):
            return member
    raise InvalidArgumentError(
        f"order_by {value!r} is not valid; use OrderByField.ID, CREATE_TIME or UPDATE_TIME "
        "('id', 'create_time', 'update_time')"
    )


@dataclass(frozen=True)
class Scope:
    """The nodes a listing is restricted to before its filter: all, one type, one context."""

    kind: str = "all"
    type_name: str = ""
    type_version: str = ""
    context_id: int = 0

    @property
    def label(self) -> str:
        return json.dumps([self.kind, self.type_name, self.type_version, self.context_id])

    def params(self) -> dict[str, Any]:
        if self.kind == "type":
            return {"scope_type_name": self.type_name, "scope_type_version": self.type_version}
        if self.kind == "context":
            return {"scope_context_id": self.context_id}
        return {}

    def condition(self, spec: NodeSpec) -> ColumnElement[bool] | None:
        t = spec.table
        if self.kind == "type":
            types = schema.type_.alias("scope_type")
            return t.c.type_id.in_(
                select(types.c.id).where(
                    types.c.kind == int(spec.kind),
                    types.c.name == bindparam("scope_type_name"),
                    types.c.version == bindparam("scope_type_version"),
                )
            )
        if self.kind == "context":
            link, member = (
                (schema.attribution, "artifact_id")
                if spec.kind == TypeKind.ARTIFACT
                else (schema.association, "execution_id")
            )
            return t.c.id.in_(
                select(link.c[member]).where(link.c.context_id == bindparam("scope_context_id"))
            )
        return None


ALL = Scope()
# Weighed by filter length: a statement takes about 100 bytes per character per dialect.
_LISTINGS = StatementCache(512, max_weight=1 << 17)
# Position of the sort key in a node row (see NodeStatements.node_columns).
_ORDER_POSITION = {OrderByField.ID: 0, OrderByField.CREATE_TIME: 5, OrderByField.UPDATE_TIME: 6}


def list_nodes(
    conn: Connection, spec: NodeSpec, options: ListOptions, scope: Scope
) -> ResultPage[Any]:
    """One page (or everything) of the nodes in ``scope`` matching the options' filter.

    The statement is cached by the listing's shape; scope, filter values, the page token's key
    and the limit are its parameters.
    """
    order = _order_field(options.order_by)
    limit = options.limit
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidArgumentError(f"limit must be an integer, got {limit!r}")
    if limit is not None and limit < 0:
        raise InvalidArgumentError(f"limit must be positive (or None/0 for all rows), got {limit}")
    limit = limit or None
    ascending = bool(options.is_asc)
    filter_text = (options.filter_query or "").strip()
    compiled = analyze(spec.kind, filter_text) if filter_text else None
    if compiled is not None:
        check_filter_types(conn, compiled)
    digest = _digest(spec.label, scope.label, filter_text)
    params: dict[str, Any] = scope.params()
    if compiled is not None:
        params.update(compiled.params)
    if options.page_token:
        params["token_value"], params["token_id"] = _read_token(
            options.page_token, order, ascending, digest
        )
    if limit is not None:
        params["page_limit"] = limit + 1
    key = (
        spec.kind,
        scope.kind,
        compiled.shape if compiled is not None else None,
        order,
        ascending,
        bool(options.page_token),
        limit is not None,
    )
    paged = bool(options.page_token)

    def where() -> ColumnElement[bool] | None:
        return _where(spec, scope, compiled, order, ascending, paged)

    statement = _LISTINGS.get(key, lambda: _select(spec, where(), order, ascending, limit))
    rows = statement.all(conn, params)
    token = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        token = _make_token(order, ascending, digest, last[_ORDER_POSITION[order]], last[0])
    if limit is None and len(rows) > InStatement.MAX:
        # Everything of a big listing: its properties in one query with the same conditions.
        props = _LISTINGS.get((*key, "properties"), lambda: _properties(spec, where()))
        return ResultPage(hydrate_with(spec, rows, props.all(conn, params)), token)
    return ResultPage(hydrate(conn, spec, rows), token)


def _where(
    spec: NodeSpec,
    scope: Scope,
    compiled: CompiledFilter | None,
    order: OrderByField,
    ascending: bool,
    paged: bool,
) -> ColumnElement[bool] | None:
    t = spec.table
    conditions: list[ColumnElement[bool]] = []
    base = scope.condition(spec)
    if base is not None:
        conditions.append(base)
    if compiled is not None:
        conditions.append(compiled.condition)
    if paged:
        last_id = bindparam("token_id", type_=Integer)
        value = bindparam("token_value", type_=BigInteger)
        column = t.c[_ORDER_COLUMNS[order]]
        if order is OrderByField.ID:
            conditions.append(t.c.id > last_id if ascending else t.c.id < last_id)
        elif ascending:
            conditions.append(or_(column > value, and_(column == value, t.c.id > last_id)))
        else:
            conditions.append(or_(column < value, and_(column == value, t.c.id < last_id)))
    return and_(*conditions) if conditions else None


def _select(
    spec: NodeSpec,
    where: ColumnElement[bool] | None,
    order: OrderByField,
    ascending: bool,
    limit: int | None,
) -> Any:
    t = spec.table
    query = node_select(spec)
    if where is not None:
        query = query.where(where)
    column = t.c[_ORDER_COLUMNS[order]]
    if order is OrderByField.ID:
        query = query.order_by(t.c.id.asc() if ascending else t.c.id.desc())
    else:
        query = query.order_by(
            *((column.asc(), t.c.id.asc()) if ascending else (column.desc(), t.c.id.desc()))
        )
    if limit is not None:
        query = query.limit(bindparam("page_limit", type_=Integer))
    return query


def _properties(spec: NodeSpec, where: ColumnElement[bool] | None) -> Any:
    ids = select(spec.table.c.id)
    if where is not None:
        ids = ids.where(where)
    return select(*node_statements(spec.kind).prop_columns).where(spec.props.c.node_id.in_(ids))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def _make_token(order: OrderByField, ascending: bool, digest: str, value: Any, last_id: int) -> str:
    payload = {"o": order.value, "a": ascending, "q": digest, "v": value, "i": last_id}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_token(token: str, order: OrderByField, ascending: bool, digest: str) -> tuple[Any, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value, last_id = payload["v"], int(payload["i"])
        same = payload["o"] == order.value and payload["a"] == ascending and payload["q"] == digest
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidArgumentError(
            "page_token is not a token this store issued; pass the next_page_token of the previous "
            "page unchanged"
        ) from None
    if not same:
        raise InvalidArgumentError(
            "page_token was issued for a different listing (order, direction, filter or scope); "
            "keep the other options unchanged while paging"
        )
    return value, last_id
