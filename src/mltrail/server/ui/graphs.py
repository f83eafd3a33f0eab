"""The UI's pictures: lineage graphs, a context's DAG, comparisons and metric plots."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mltrail.server.ui import Pages


def install(pages: Pages) -> None:
    """Register the graph, comparison and metric pages."""
