"""Filters checked against the store's types: one that can never match is refused with a hint.

Only an empty answer can come from such a filter, so the listings check it only then, after
running the query: a filter that selects something costs no check at all.

The check (:mod:`mltrail.query._hints`) reads a view of the types, kept per engine. Types are
add-only, so a view that lets a filter through stays right and costs no SQL in steady state; a
view that refuses it may be stale, so the types are read again, in the listing's transaction,
before the filter is refused.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Connection, true

from mltrail.backends.sql.schema import TypeKind
from mltrail.model import PropertyType
from mltrail.query._hints import TypeView, never_matches
from mltrail.query.filters import CompiledFilter
from mltrail.store._types import load_types

_VIEWS: weakref.WeakKeyDictionary[Any, TypeView] = weakref.WeakKeyDictionary()


def check_filter_types(conn: Connection, compiled: CompiledFilter) -> None:
    """Raise QuerySyntaxError if, with the store's types, ``compiled`` selects no node."""
    if compiled.tests is None:
        return
    view = _VIEWS.get(conn.engine)
    if view is None:
        view = _VIEWS[conn.engine] = _read_view(conn)
    if never_matches(compiled.tests, view, compiled.text) is None:
        return
    view = _VIEWS[conn.engine] = _read_view(conn)
    error = never_matches(compiled.tests, view, compiled.text)
    if error is not None:
        raise error


def _read_view(conn: Connection) -> TypeView:
    view: dict[TypeKind, dict[str, list[dict[str, PropertyType]]]] = {kind: {} for kind in TypeKind}
    for info in load_types(conn, true()):
        view[info.kind].setdefault(info.name, []).append(dict(info.properties))
    return view
