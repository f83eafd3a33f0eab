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
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, and_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from mltrail.errors import InvalidArgumentError
from mltrail.model import ListOptions, OrderByField, ResultPage
from mltrail.store._nodes import NodeSpec, hydrate, node_select

FilterCompiler = Callable[[NodeSpec, str], ColumnElement[bool]]

_ORDER_COLUMNS = {
    OrderByField.ID: "id",
    OrderByField.CREATE_TIME: "create_time_since_epoch",
    OrderByField.UPDATE_TIME: "last_update_time_since_epoch",
}


def merge_options(
    list_options: ListOptions | None,
    *,
    filter_query: str | None = None,
    order_by: OrderByField | str | None = None,
    ascending: bool | None = None,
    limit: int | None = None,
    page_token: str | None = None,
) -> ListOptions:
    """One :class:`ListOptions` from an options object and/or keyword arguments (which win)."""
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


def list_nodes(
    conn: Connection,
    spec: NodeSpec,
    options: ListOptions,
    *,
    scope: str,
    base: ColumnElement[bool] | None,
    compile_filter: FilterCompiler,
) -> ResultPage[Any]:
    """One page (or everything) of the nodes matching ``base`` and the options' filter."""
    order = _order_field(options.order_by)
    limit = options.limit
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
        raise InvalidArgumentError(f"limit must be an integer, got {limit!r}")
    if limit is not None and limit < 0:
        raise InvalidArgumentError(f"limit must be positive (or None/0 for all rows), got {limit}")
    limit = limit or None
    ascending = bool(options.is_asc)
    t = spec.table
    conditions: list[ColumnElement[bool]] = []
    if base is not None:
        conditions.append(base)
    filter_text = (options.filter_query or "").strip()
    if filter_text:
        conditions.append(compile_filter(spec, filter_text))
    digest = _digest(spec.label, scope, filter_text)
    column = t.c[_ORDER_COLUMNS[order]]
    if options.page_token:
        value, last_id = _read_token(options.page_token, order, ascending, digest)
        if order is OrderByField.ID:
            conditions.append(t.c.id > last_id if ascending else t.c.id < last_id)
        elif ascending:
            conditions.append(or_(column > value, and_(column == value, t.c.id > last_id)))
        else:
            conditions.append(or_(column < value, and_(column == value, t.c.id < last_id)))
    where = and_(*conditions) if conditions else None
    query = node_select(spec)
    id_query = select(t.c.id)
    if where is not None:
        query = query.where(where)
        id_query = id_query.where(where)
    if order is OrderByField.ID:
        query = query.order_by(t.c.id.asc() if ascending else t.c.id.desc())
    else:
        query = query.order_by(
            *((column.asc(), t.c.id.asc()) if ascending else (column.desc(), t.c.id.desc()))
        )
    if limit is not None:
        query = query.limit(limit + 1)
    rows = conn.execute(query).all()
    token = None
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        token = _make_token(order, ascending, digest, getattr(last, column.name), last.id)
    return ResultPage(hydrate(conn, spec, rows, None if limit else id_query), token)


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
