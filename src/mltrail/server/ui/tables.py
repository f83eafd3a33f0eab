"""The tables of artifacts, executions and contexts: filtered, sorted, paged, faceted by type.

A table page is two store calls: the counts by type of the nodes matching the filter (the
facets, one grouped query) and one page of the listing (keyset paging: the next page starts
after the last row's key, through the store's ``next_page_token``; no OFFSET). Its state lives in
the query string (``filter``, ``type``, ``order``, ``desc``, ``limit``, ``col``, ``page_token``),
so every view is a link and the page works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mltrail.errors import InvalidArgumentError
from mltrail.server.ui import _links

if TYPE_CHECKING:
    from mltrail.server.ui import Pages
    from mltrail.store import MetadataStore

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Property columns a table shows at most (``?col=properties.lr&col=...``).
MAX_COLUMNS = 8
#: Orders of the node columns, by the column that shows them.
SORTABLE = {"id": "id", "created": "create_time", "updated": "update_time"}
_PROPERTY_PREFIXES = ("properties.", "custom_properties.")


@dataclass(frozen=True)
class Kind:
    """One kind of node as a table: its URL name, columns and store calls."""

    plural: str
    singular: str
    title: str
    columns: tuple[str, ...]

    def listing(self, store: MetadataStore, **options: Any) -> Any:
        return getattr(store, f"get_{self.plural}")(**options)

    def counts(self, store: MetadataStore, filter_query: str | None) -> dict[str, int]:
        counted: dict[str, int] = getattr(store, f"count_{self.plural}_by_type")(filter_query)
        return counted


ARTIFACTS = Kind(
    "artifacts",
    "artifact",
    "Artifacts",
    ("id", "type", "name", "uri", "state", "external_id", "created", "updated"),
)
EXECUTIONS = Kind(
    "executions", "execution", "Executions", ("id", "type", "name", "state", "created", "updated")
)
CONTEXTS = Kind("contexts", "context", "Contexts", ("id", "type", "name", "created", "updated"))
KINDS = {k.plural: k for k in (ARTIFACTS, EXECUTIONS, CONTEXTS)}


def node_row(kind: str, node: Any) -> dict[str, Any]:
    """The fields of a node a table or a list shows (``kind``: artifacts, executions...)."""
    row: dict[str, Any] = {
        "id": node.id,
        "type": node.type,
        "name": node.name,
        "external_id": node.external_id,
        "created": node.create_time_since_epoch,
        "updated": node.last_update_time_since_epoch,
    }
    if kind == "artifacts":
        row["uri"] = node.uri
        row["uri_link"] = _links.web_link(node.uri)
        row["state"] = node.state.name if node.state is not None else None
    elif kind == "executions":
        state = node.last_known_state
        row["state"] = state.name if state is not None else None
    return row


def _property_value(node: Any, column: str) -> Any:
    prefix, _, name = column.partition(".")
    return getattr(node, prefix).get(name)


@dataclass
class State:
    """The view a table's query string asks for."""

    filter: str
    type: str | None
    order: str
    desc: bool
    limit: int
    columns: list[str]
    page_token: str | None

    @classmethod
    def read(cls, params: Mapping[str, Any]) -> State:
        filter_text = str(params.get("filter") or "")
        multi = params.get("_multi") or {}
        columns = []
        for column in multi.get("col", []):
            column = str(column).strip()
            if column and column not in columns:
                columns.append(column)
        return cls(
            filter=filter_text if filter_text.strip() else "",
            type=str(params.get("type") or "") or None,
            order=str(params.get("order") or "id"),
            desc=str(params.get("desc", "1")).strip().lower() not in ("0", "false", "no"),
            limit=_links.int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            columns=columns,
            page_token=str(params.get("page_token") or "") or None,
        )

    def check(self) -> None:
        """Raise InvalidArgumentError for an order or a column the table cannot show."""
        if len(self.columns) > MAX_COLUMNS:
            raise InvalidArgumentError(
                f"a table shows at most {MAX_COLUMNS} property columns; {len(self.columns)} "
                "were asked for (col=...)"
            )
        for column in self.columns:
            if not column.startswith(_PROPERTY_PREFIXES) or column.endswith("."):
                raise InvalidArgumentError(
                    f"col={column[:60]!r} is not a property column; write properties.NAME or "
                    "custom_properties.NAME"
                )
        if self.order not in SORTABLE.values() and not (
            self.order.startswith(_PROPERTY_PREFIXES) and not self.order.endswith(".")
        ):
            raise InvalidArgumentError(
                f"order={self.order[:60]!r} is not a column the table sorts by; use "
                + ", ".join(SORTABLE.values())
                + ", properties.NAME or custom_properties.NAME"
            )

    def link(self, **changes: Any) -> str:
        """The query string of this view with ``changes`` (``page_token`` dropped unless given)."""
        values = {
            "filter": self.filter,
            "type": self.type,
            "order": self.order,
            "desc": "1" if self.desc else "0",
            "limit": self.limit if self.limit != DEFAULT_LIMIT else None,
            "col": self.columns,
            "page_token": None,
        }
        values.update(changes)
        return _links.query(values)


def _columns(kind: Kind, state: State) -> list[dict[str, Any]]:
    out = []
    for key in (*kind.columns, *state.columns):
        order = SORTABLE.get(key, key if key in state.columns else None)
        column: dict[str, Any] = {
            "key": key,
            "label": key.replace("_", " "),
            "sort": None,
            "sorted": None,
        }
        if order is not None:
            current = state.order == order
            column["sorted"] = ("desc" if state.desc else "asc") if current else None
            # The current order flips; another one starts from the top (newest, largest).
            column["sort"] = state.link(order=order, desc="0" if current and state.desc else "1")
        out.append(column)
    return out


def table(kind: Kind, store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """The model of a table page."""
    state = State.read(params)
    model: dict[str, Any] = {
        "kind": kind.plural,
        "singular": kind.singular,
        "title": kind.title,
        "filter": state.filter,
        "type": state.type,
        "order": state.order,
        "desc": state.desc,
        "limit": state.limit,
        "columns": [],
        "rows": [],
        "facets": [],
        "matching": None,
        "page": {"token": state.page_token, "next_page_token": None, "next": None, "first": None},
        "links": {
            "all_types": state.link(type=None),
            "reset": _links.query({"col": state.columns}),
        },
        "invalid": None,
    }
    if state.page_token:
        model["page"]["first"] = state.link()
    try:
        state.check()
        model["columns"] = _columns(kind, state)
        # The filter alone first: the facets need it, and a fault in it is reported in the
        # user's own text (not in the filter with the type added).
        counts = kind.counts(store, state.filter or None)
        page = kind.listing(
            store,
            filter_query=_links.with_type(state.filter, state.type) or None,
            order_by=state.order,
            ascending=not state.desc,
            limit=state.limit,
            page_token=state.page_token,
        )
    except InvalidArgumentError as exc:
        model["invalid"] = _links.problem(exc)
        return model
    facets = [
        {"type": name, "count": n, "selected": name == state.type, "link": state.link(type=name)}
        for name, n in counts.items()
    ]
    if state.type is not None and state.type not in counts:
        facets.append({"type": state.type, "count": 0, "selected": True, "link": state.link()})
    model["facets"] = facets
    model["matching"] = sum(counts.values()) if state.type is None else counts.get(state.type, 0)
    rows = []
    for node in page:
        row = node_row(kind.plural, node)
        row["extra"] = {c: _property_value(node, c) for c in state.columns}
        rows.append(row)
    model["rows"] = rows
    token = page.next_page_token
    if token:
        model["page"]["next_page_token"] = token
        model["page"]["next"] = state.link(page_token=token)
    return model


def install(pages: Pages) -> None:
    """Register ``/artifacts``, ``/executions`` and ``/contexts``."""
    for kind in KINDS.values():

        def build(store: MetadataStore, params: Mapping[str, Any], kind: Kind = kind) -> Any:
            return table(kind, store, params)

        build.__name__ = f"{kind.plural}_table"
        pages.page(f"/{kind.plural}", "table.html")(build)
