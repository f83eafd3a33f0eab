"""Verified, resumable downloads of one object to the local filesystem.

The object's bytes stream into a partial file while they are hashed; only when the digest equals
the object's id is the partial file renamed to its final name (read-only). A corrupt or truncated
object raises FailedPreconditionError naming it and leaves nothing: the partial file is removed.
A download cut off by an error (a network failure, a stopped server) keeps its partial file; the
next attempt hashes the bytes it has and asks the remote only for the rest (a ranged read). When
the resumed result does not verify, the object is fetched once more from its start.

Two downloads of one object into one cache (two processes pulling at once) take turns: the
partial file is locked (``flock``) while it is written, and the second finds the object there.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

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
    received from the source (less than the object's size when a partial download resumed,
    0 when another download of the same object finished first).

    NotFoundError when the source lacks the object; FailedPreconditionError when its bytes do not
    hash to its id (nothing lands); any transport error propagates with the partial file kept.
    """
    from mltrail.data.odb import corrupt_message

    partial.parent.mkdir(parents=True, exist_ok=True)
    received = 0
    for resume in (True, False):
        with _claimed(partial) as out:
            if target.exists():  # another download finished while this one waited
                _files.remove_quietly(partial)
                return received
            if resume:
                hasher, offset = _hash_stream(out, oid.algorithm)
            else:
                out.truncate(0)
                hasher, offset = hashlib.new(oid.algorithm), 0
            out.seek(offset)
            try:
                received += _fetch(source, oid, out, offset, hasher, on_bytes)
                out.flush()
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise FailedPreconditionError(
                        f"no space left on the filesystem of {target.parent} for object {oid} "
                        "(No space left on device); free some space (mltrail gc removes objects "
                        "no artifact needs) and pull again: the download resumes where it stopped"
                    ) from None
                raise
            if hasher.hexdigest() == oid.hexdigest:
                os.chmod(partial, _files.READ_ONLY)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target)
                return received
            _files.remove_quietly(partial)
        if not offset:
            break  # fetched whole and still wrong: the source's object is bad
    raise FailedPreconditionError(corrupt_message(oid, source))


@contextlib.contextmanager
def _claimed(partial: Path) -> Iterator[IO[bytes]]:
    """The partial file opened for reading and writing (created when missing), locked against
    other downloads of the same object. A partial renamed or removed by the download that held
    the lock before is opened anew."""
    while True:
        with open(os.open(partial, os.O_RDWR | os.O_CREAT, 0o644), "r+b") as stream:
            _lock(stream.fileno())  # released when the file is closed
            try:
                current = os.stat(partial).st_ino == os.fstat(stream.fileno()).st_ino
            except FileNotFoundError:
                current = False
            if current:
                yield stream
                return


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: downloads of one object are not shared
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _hash_stream(stream: IO[bytes], algorithm: str) -> tuple[Any, int]:
    """A hasher fed with the stream's bytes from its start, and their number."""
    stream.seek(0)
    return _files.hash_stream(stream, algorithm)


def _fetch(
    source: ObjectStore,
    oid: Oid,
    out: IO[bytes],
    offset: int,
    hasher: Any,
    on_bytes: Callable[[int], None] | None,
) -> int:
    """Appends the object's bytes from ``offset`` on to ``out``, feeding ``hasher``."""
    with source.open(oid) as stream:
        if offset:
            stream.seek(offset)
        return _files.copy_stream(stream, out, hasher, on_bytes)
