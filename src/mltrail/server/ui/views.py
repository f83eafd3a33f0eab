"""The pages of the UI: each a function from the store and the query to the page's model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mltrail.server.ui import Pages
    from mltrail.store import MetadataStore


def overview(store: MetadataStore, params: Mapping[str, Any]) -> dict[str, Any]:
    """A project at a glance: how many nodes of each kind."""
    return {
        "counts": {
            "artifacts": store.count_artifacts(),
            "executions": store.count_executions(),
            "contexts": store.count_contexts(),
        }
    }


def install(pages: Pages) -> None:
    pages.page("/", "overview.html")(overview)
