"""The remote client: :func:`mltrail.connect` with a server URL returns a :class:`RemoteStore`,
which offers the whole :class:`~mltrail.store.MetadataStore` API over HTTP, one request per call.
"""

from __future__ import annotations

import typing

if typing.TYPE_CHECKING:
    from mltrail.remote.client import RemoteStore

__all__ = ["RemoteStore"]


def __getattr__(name: str) -> object:
    if name == "RemoteStore":
        from mltrail.remote.client import RemoteStore

        return RemoteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
