"""The metadata store API.

``MetadataStore`` is imported on first use, so that the store's argument and value helpers can be
imported (by query/fingerprint.py) without the whole store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mltrail.store.metadata_store import MetadataStore

__all__ = ["MetadataStore"]


def __getattr__(name: str) -> Any:
    if name == "MetadataStore":
        from mltrail.store.metadata_store import MetadataStore

        return MetadataStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
