"""The remote client: :func:`mltrail.connect` with a server URL returns a :class:`RemoteStore`,
which offers the whole :class:`~mltrail.store.MetadataStore` API over HTTP, one request per call.
"""

from mltrail.remote.client import RemoteStore

__all__ = ["RemoteStore"]
