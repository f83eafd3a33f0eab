"""The pages of the UI: each a function from the store and the query to the page's model.

The overview is here; the tables are in :mod:`~mltrail.server.ui.tables`, the node pages in
:mod:`~mltrail.server.ui.nodes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mltrail.server.ui import _links, nodes, tables
from mltrail.server.ui.tables import node_row

if TYPE_CHECKING:
    from mltrail.server.ui import Pages
    from mltrail.store import MetadataStore

#: Executions the overview lists, newest first.
RECENT = 20
#: Pipelines the overview lists, newest first.
PIPELINES = 20
#: Pipelines: the Tracker's contexts, and any context with children.
PIPELINE_FILTER = "type = 'Pipeline' OR child_contexts_c.id > 0"


def _by_type(plural: str, counts: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"type": name, "count": n, "link": f"/{plural}" + _links.query({"type": name})}
        for name, n in counts.items()
    ]


def overview(store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """A project at a glance: counts by kind and type, pipelines and their stages, recent runs.

    Six store calls: a grouped count per kind, the pipelines, all their stages at once, and
    the latest executions.
    """
    counted = {
        "artifacts": store.count_artifacts_by_type(),
        "executions": store.count_executions_by_type(),
        "contexts": store.count_contexts_by_type(),
    }
    pipelines = store.get_contexts(
        filter_query=PIPELINE_FILTER, order_by="create_time", ascending=False, limit=PIPELINES
    )
    stages = store.get_children_contexts_by_contexts([p.id for p in pipelines if p.id])
    recent = store.get_executions(order_by="create_time", ascending=False, limit=RECENT)
    return {
        "counts": {kind: sum(counts.values()) for kind, counts in counted.items()},
        "by_type": {kind: _by_type(kind, counts) for kind, counts in counted.items()},
        "pipelines": [
            {
                **node_row("contexts", p),
                "stages": [node_row("contexts", s) for s in stages.get(p.id or 0, [])],
                "runs": "/executions" + _links.query({"filter": f"contexts_c.id = {p.id}"}),
            }
            for p in pipelines
        ],
        "more_pipelines": "/contexts" + _links.query({"filter": PIPELINE_FILTER})
        if pipelines.next_page_token
        else None,
        "recent": [node_row("executions", e) for e in recent],
    }


def install(pages: Pages) -> None:
    pages.page("/", "overview.html")(overview)
    tables.install(pages)
    nodes.install(pages)
