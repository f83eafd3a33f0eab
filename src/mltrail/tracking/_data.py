"""The tracker's side of artifact bytes: the local cache that logged files go into, and the
remotes their bytes are pushed to and fetched from (see :mod:`mltrail.data`).

``cache=True`` (the default) puts every logged file and directory into the cache at
``$MLTRAIL_CACHE``, else ``<root>/.mltrail/cache``; a path chooses another cache; ``False``
logs metadata only. Transfers use the same cache either way (the default one when logging does
not fill it). An object already in the cache is not copied again: re-logging unchanged files
costs one ``stat`` of the cache entry (the hash memo spares the hashing).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.errors import FailedPreconditionError, InvalidArgumentError

if TYPE_CHECKING:
    from mltrail.data import Cache, ObjectStore
    from mltrail.tracking.hashing import ContentDigest


class DataSide:
    """The cache (made on first use) and the remotes of one tracker."""

    def __init__(self, root: Path, cache: bool | str | os.PathLike[str]) -> None:
        if not isinstance(cache, (bool, str, os.PathLike)):
            raise InvalidArgumentError(
                f"cache must be True (the default cache), False (none) or a directory, got "
                f"{type(cache).__name__}"
            )
        self.root = root
        #: Whether logged files go into the cache.
        self.logging = cache is not False
        self._location = None if isinstance(cache, bool) else Path(os.fspath(cache))
        self._cache: Cache | None = None

    @property
    def cache(self) -> Cache:
        """The cache (created on first use)."""
        if self._cache is None:
            from mltrail.data import Cache

            if self._location is not None:
                self._cache = Cache(self._location)
            else:
                from mltrail.data import default_cache_dir

                self._cache = Cache(default_cache_dir(self.root))
        return self._cache

    def add(self, path: Path, digest: ContentDigest) -> None:
        """Put the bytes of ``path`` (of ``digest``) into the cache unless they are there."""
        if not self.logging:
            return
        from mltrail.data import Oid

        oid = Oid(digest.algorithm, digest.hexdigest, digest.is_directory)
        cache = self.cache
        if cache.has(oid):
            return
        try:
            cache.add(path, oid)
        except OSError as exc:  # no space, no permission: nothing was left behind
            raise FailedPreconditionError(
                f"cannot put {path} into the cache at {cache.root}: {exc.strerror or exc}; "
                "free space there, choose another cache (Tracker(cache=DIRECTORY)), or log "
                "metadata only (Tracker(cache=False))"
            ) from None

    def remote(self, remote: Any) -> ObjectStore:
        """The data end ``remote`` stands for: an object store as given, a configured remote's
        name, a data URL or a directory; None: the only configured remote with a data end."""
        from mltrail.data import ObjectStore

        if isinstance(remote, ObjectStore):
            return remote
        if remote is not None and not isinstance(remote, (str, os.PathLike)):
            raise InvalidArgumentError(
                f"remote must be a remote's name, a data URL, a directory or an ObjectStore, "
                f"got {type(remote).__name__}"
            )
        from mltrail.sync import remotes

        config = remotes.config_path(self.root)
        given = os.fspath(remote) if remote is not None else None
        return remotes.resolve_data(given, path=config).open_data()

    def remote_or_none(self, remote: Any) -> ObjectStore | None:
        """:meth:`remote`, or None when none is given and none is configured."""
        if remote is not None:
            return self.remote(remote)
        from mltrail.errors import NotFoundError

        try:
            return self.remote(None)
        except NotFoundError:
            return None
