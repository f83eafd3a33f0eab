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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, and_, bindparam, func, select
from sqlalchemy.sql.elements import ColumnElement

from mltrail.backends.sql import schema
from mltrail.backends.sql.fast import InStatement, StatementCache
from mltrail.backends.sql.readers import CollectorPaused
from mltrail.backends.sql.schema import TypeKind
from mltrail.errors import InvalidArgumentError
from mltrail.model import ListOptions, ResultPage
from mltrail.store._args import count_arg, filter_arg, flag_arg, optional_text
from mltrail.store._nodes import NodeSpec, hydrate, hydrate_with, node_select
from mltrail.store._ordering import Order, PropertyOrder, SortKeys, parse_order
from mltrail.store._statements import node_statements

if TYPE_CHECKING:
    from mltrail.backends.sql.dialects import Dialect
    from mltrail.query.filters import CompiledFilter

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
            # One type at most (its name and version are unique): "=", not "IN", so that the
            # (type_id, id) index gives the rows in order and a page reads only its rows.
            return t.c.type_id == (
                select(types.c.id)
                .where(
                    types.c.kind == int(spec.kind),
                    types.c.name == bindparam("scope_type_name"),
                    types.c.version == bindparam("scope_type_version"),
                )
                .scalar_subquery()
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
_COUNTS = StatementCache(128, max_weight=1 << 16)


def list_nodes(
    conn: Connection,
    spec: NodeSpec,
    options: ListOptions,
    scope: Scope,
    dialect: Dialect | None = None,
) -> ResultPage[Any]:
    """One page (or everything) of the nodes in ``scope`` matching the options' filter.

    The statement is cached by the listing's shape; scope, filter values, the page token's key
    and the limit are its parameters. On a ``dialect`` that sends reads together, a listing of
    everything reads its nodes and their properties (by the same conditions) in one request.
    The cycle collector is held off meanwhile (see
    :class:`~mltrail.backends.sql.readers.CollectorPaused`).
    """
    with CollectorPaused():
        return _list_nodes(conn, spec, options, scope, dialect)


def _list_nodes(
    conn: Connection,
    spec: NodeSpec,
    options: ListOptions,
    scope: Scope,
    dialect: Dialect | None,
) -> ResultPage[Any]:
    order = parse_order(options.order_by)
    limit = count_arg(options.limit, "limit (None or 0 for all rows)") or None
    ascending = flag_arg(options.is_asc, "ascending")
    filter_text = filter_arg(options.filter_query, "filter_query") or ""
    optional_text(options.page_token, "page_token")
    compiled = _analyze(spec.kind, filter_text)
    # The query's digest goes into page tokens: only a page (or a token) needs it.
    digest = _digest(spec.label, scope.label, filter_text) if limit or options.page_token else ""
    params: dict[str, Any] = scope.params()
    if compiled is not None:
        params.update(compiled.params)
    if isinstance(order, PropertyOrder):
        params.update(order.params())
    token_shape = None
    if options.page_token:
        token_key, params["token_id"] = _read_token(options.page_token, order, ascending, digest)
        token_shape, token_params = order.read_key(token_key)
        params.update(token_params)
    if limit is not None:
        params["page_limit"] = limit + 1
    key = (
        spec.kind,
        scope.kind,
        compiled.shape if compiled is not None else None,
        order.shape,
        ascending,
        token_shape,
        bool(options.page_token),
        limit is not None,
    )

    def keys() -> SortKeys:
        return order.keys(spec, ascending, token_shape)

    def listing() -> Any:
        k = keys()
        return _select(spec, k, _where(spec, scope, compiled, k), limit)

    def properties() -> Any:
        k = keys()
        return _properties(spec, k, _where(spec, scope, compiled, k))

    statement = _LISTINGS.get(key, listing)
    width = len(node_statements(spec.kind).node_columns)
    prop_rows = None
    if limit is None and dialect is not None and dialect.batches_reads:
        props = _LISTINGS.get((*key, "properties"), properties)
        rows, prop_rows = dialect.run_reads(conn, [(statement, params), (props, params)], last=True)
    else:
        rows = statement.all(conn, params)
    if not rows and compiled is not None:
        # A filter the types show can never match selects nothing: only an empty answer can
        # be one, and only then are the types read.
        _check_filter_types(conn, compiled)
    if prop_rows is not None:
        return ResultPage(hydrate_with(spec, _node_rows(rows, width), prop_rows), None)
    token = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        token = _make_token(order, ascending, digest, order.key_of(last, width), last[0])
    rows = _node_rows(rows, width)
    if limit is None and len(rows) > InStatement.MAX:
        # Everything of a big listing: its properties in one query with the same conditions.
        props = _LISTINGS.get((*key, "properties"), properties)
        return ResultPage(hydrate_with(spec, rows, props.all(conn, params)), token)
    return ResultPage(hydrate(conn, spec, rows), token)


def _node_rows(rows: list[Any], width: int) -> list[Any]:
    """The first ``width`` columns of listing rows, the node's (without the sort keys of a
    property order)."""
    if len(rows) and len(rows[0]) > width:
        return [row[:width] for row in rows]
    return rows


def count_nodes(conn: Connection, spec: NodeSpec, filter_query: str | None, scope: Scope) -> int:
    """How many nodes in ``scope`` match the filter: one COUNT query."""
    filter_text = filter_arg(filter_query, "filter_query") or ""
    compiled = _analyze(spec.kind, filter_text)
    params: dict[str, Any] = scope.params()
    if compiled is not None:
        params.update(compiled.params)
    key = (spec.kind, scope.kind, compiled.shape if compiled is not None else None)

    def build() -> Any:
        query = select(func.count()).select_from(spec.table)
        where = _where(spec, scope, compiled, None)
        return query.where(where) if where is not None else query

    count = int(_COUNTS.get(key, build).all(conn, params)[0][0])
    if not count and compiled is not None:
        _check_filter_types(conn, compiled)  # as in list_nodes: only a count of 0 can be one
    return count


def count_nodes_by_type(
    conn: Connection, spec: NodeSpec, filter_query: str | None
) -> dict[str, int]:
    """How many nodes of each type match the filter, by type name: one grouped query.

    Nodes are grouped by type id first (the type index gives them in that order), then the few
    groups are joined to their types; versions of one type name are summed.
    """
    filter_text = filter_arg(filter_query, "filter_query") or ""
    compiled = _analyze(spec.kind, filter_text)
    params: dict[str, Any] = dict(compiled.params) if compiled is not None else {}
    key = (spec.kind, "by_type", compiled.shape if compiled is not None else None)

    def build() -> Any:
        t = spec.table
        groups = select(t.c.type_id, func.count().label("n")).group_by(t.c.type_id)
        where = _where(spec, ALL, compiled, None)
        if where is not None:
            groups = groups.where(where)
        counted = groups.subquery("counted")
        types = schema.type_.alias("counted_type")
        return (
            select(types.c.name, func.sum(counted.c.n))
            .select_from(counted.join(types, types.c.id == counted.c.type_id))
            .group_by(types.c.name)
            .order_by(types.c.name)
        )

    rows = _COUNTS.get(key, build).all(conn, params)
    counts = {str(name): int(n) for name, n in rows}
    if not counts and compiled is not None:
        _check_filter_types(conn, compiled)  # as in count_nodes: only an empty answer can be one
    return counts


def _where(
    spec: NodeSpec, scope: Scope, compiled: CompiledFilter | None, keys: SortKeys | None
) -> ColumnElement[bool] | None:
    conditions: list[ColumnElement[bool]] = []
    base = scope.condition(spec)
    if base is not None:
        conditions.append(base)
    if compiled is not None:
        conditions.append(compiled.condition)
    if keys is not None and keys.after is not None:
        conditions.append(keys.after)
    return and_(*conditions) if conditions else None


def _select(
    spec: NodeSpec, keys: SortKeys, where: ColumnElement[bool] | None, limit: int | None
) -> Any:
    t = spec.table
    query = node_select(spec).add_columns(*keys.columns)
    if keys.source is not t:
        query = query.select_from(keys.source)
    if where is not None:
        query = query.where(where)
    query = query.order_by(*keys.order_by)
    if limit is not None:
        query = query.limit(bindparam("page_limit", type_=Integer))
    return query


def _properties(spec: NodeSpec, keys: SortKeys, where: ColumnElement[bool] | None) -> Any:
    ids = select(spec.table.c.id).select_from(keys.source)
    if where is not None:
        ids = ids.where(where)
    return select(*node_statements(spec.kind).prop_columns).where(spec.props.c.node_id.in_(ids))


def _token_scalar(value: Any) -> bool:
    """Whether ``value`` could be a sort key this store put in a token (and can bind)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63
    if isinstance(value, str):
        return value.isascii() or not any("\ud800" <= c <= "\udfff" for c in value)
    return value is None or isinstance(value, bool) or (isinstance(value, float) and value == value)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def _make_token(order: Order, ascending: bool, digest: str, value: Any, last_id: int) -> str:
    payload = {"o": order.value, "a": ascending, "q": digest, "v": value, "i": last_id}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_BAD_TOKEN = (
    "page_token is not a token this store issued; pass the next_page_token of the previous "
    "page unchanged"
)


def _read_token(token: str, order: Order, ascending: bool, digest: str) -> tuple[Any, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        value, last_id = payload["v"], payload["i"]
        same = payload["o"] == order.value and payload["a"] == ascending and payload["q"] == digest
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError, RecursionError):
        raise InvalidArgumentError(_BAD_TOKEN) from None
    # The order checks the shape of its own key (read_key); every scalar in it must bind.
    scalars = value if isinstance(value, list) else [value]
    if not all(_token_scalar(v) for v in scalars):
        raise InvalidArgumentError(_BAD_TOKEN)
    if type(last_id) is not int or not _token_scalar(last_id):
        raise InvalidArgumentError(_BAD_TOKEN)
    if not same:
        raise InvalidArgumentError(
            "page_token was issued for a different listing (order, direction, filter or scope); "
            "keep the other options unchanged while paging"
        )
    return value, last_id


def _analyze(kind: TypeKind, filter_text: str) -> CompiledFilter | None:
    """The compiled filter, or None without one. The filter machinery (and Lark) is imported
    only when a filter is given: a listing without one does not need it."""
    if not filter_text:
        return None
    from mltrail.query.filters import analyze

    return analyze(kind, filter_text)


def _check_filter_types(conn: Connection, compiled: CompiledFilter) -> None:
    from mltrail.store._filter_types import check_filter_types

    check_filter_types(conn, compiled)
