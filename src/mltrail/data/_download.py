"""Verified, resumable downloads of one object to the local filesystem.

The object's bytes stream into a partial file while they are hashed; only when the digest equals
the object's id is the partial file renamed to its final name (read-only). A corrupt or truncated
object raises FailedPreconditionError naming it and leaves nothing: the partial file is removed.
A download cut off by an error (a network failure, a stopped server) keeps its partial file; the
next attempt hashes the bytes it has and asks the remote only for the rest (a ranged read). When
the resumed result does not verify, the object is fetched once more from its start.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.data import _files
from mltrail.data._oid import Oid
from mltrail.errors import FailedPreconditionError

if TYPE_CHECKING:
    from mltrail.data.odb import ObjectStore

__all__ = ["download"]


def download(
    source: ObjectStore,
    oid: Oid,
    target: Path,
    partial: Path,
    on_bytes: Callable[[int], None] | None = None,
) -> int:
    """Downloads ``oid`` from ``source`` to ``target`` through ``partial``; returns the bytes
    received from the source (less than the object's size when a partial download resumed).

    NotFoundError when the source lacks the object; FailedPreconditionError when its bytes do not
    hash to its id (nothing lands); any transport error propagates with the partial file kept.
    """
    from mltrail.data.odb import corrupt_message

    partial.parent.mkdir(parents=True, exist_ok=True)
    received = 0
    for resume in (True, False):
        if resume and partial.exists():
            hasher, offset = _files.hash_file(partial, oid.algorithm)
        else:
            _files.remove_quietly(partial)
            hasher, offset = hashlib.new(oid.algorithm), 0
        received += _fetch(source, oid, partial, offset, hasher, on_bytes)
        if hasher.hexdigest() == oid.hexdigest:
            os.chmod(partial, _files.READ_ONLY)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, target)
            return received
        _files.remove_quietly(partial)
        if not offset:
            break  # fetched whole and still wrong: the source's object is bad
    raise FailedPreconditionError(corrupt_message(oid, source))


def _fetch(
    source: ObjectStore,
    oid: Oid,
    partial: Path,
    offset: int,
    hasher: Any,
    on_bytes: Callable[[int], None] | None,
) -> int:
    """Appends the object's bytes from ``offset`` on to ``partial``, feeding ``hasher``."""
    with source.open(oid) as stream:
        if offset:
            stream.seek(offset)
        with open(partial, "ab") as out:
            try:
                return _files.copy_stream(stream, out, hasher, on_bytes)
            finally:
                out.flush()
