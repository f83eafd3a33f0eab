"""The metadata store API."""

from mltrail.store.metadata_store import MetadataStore

__all__ = ["MetadataStore"]
