"""Artifact bytes: a content-addressed local cache and remotes reached through fsspec.

Objects are named by their digest (:class:`Oid`), laid out as DVC 3 lays out its cache and
remotes (``files/<algorithm>/<hex[:2]>/<hex[2:]>``); directory manifests are objects too.
"""

from mltrail.data._oid import Oid

__all__ = ["Oid"]
