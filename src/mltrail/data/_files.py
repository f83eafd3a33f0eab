"""Local file primitives of the object stores: streamed copies that hash, reflinks, temporaries.

Every copy streams in :data:`CHUNK_SIZE` chunks through one reused buffer, so memory stays bounded
whatever the file's size. A reflink (``FICLONE``) shares the source's blocks on file systems that
can (Btrfs, XFS, bcachefs...); anywhere else it fails with ``OSError`` and the caller copies.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

__all__ = [
    "CHUNK_SIZE",
    "READ_ONLY",
    "copy_file",
    "copy_stream",
    "hash_file",
    "hash_stream",
    "reflink",
    "remove_quietly",
    "temporary_beside",
]

#: Bytes read or written at a time.
CHUNK_SIZE = 1 << 20

#: The mode of objects in a local store: nobody edits an object in place.
READ_ONLY = 0o444

#: Linux's FICLONE ioctl: make the destination share the source's blocks.
FICLONE = 0x40049409


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: Any, /) -> Any: ...


def copy_stream(
    source: Readable | BinaryIO,
    target: Writable | BinaryIO,
    hasher: Any | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> int:
    """Copies ``source`` to ``target`` in chunks, feeding ``hasher`` (a hashlib object) on the
    way; returns the number of bytes. ``on_bytes`` is told each chunk's size."""
    total = 0
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        buffer = bytearray(CHUNK_SIZE)
        view = memoryview(buffer)
        while True:
            n = readinto(buffer)
            if not n:
                break
            chunk = view[:n]
            if hasher is not None:
                hasher.update(chunk)
            target.write(chunk)
            total += n
            if on_bytes is not None:
                on_bytes(n)
        return total
    while True:
        data = source.read(CHUNK_SIZE)
        if not data:
            break
        if hasher is not None:
            hasher.update(data)
        target.write(data)
        total += len(data)
        if on_bytes is not None:
            on_bytes(len(data))
    return total


def copy_file(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> int:
    """Copies ``source`` to the new file ``target`` inside the kernel where it can (sendfile,
    as ``shutil.copyfile`` does: no bytes through Python); returns the size copied."""
    import shutil

    if os.path.exists(target):
        raise FileExistsError(f"{target} exists")
    shutil.copyfile(source, target)
    return os.stat(target).st_size


def hash_stream(stream: Any, algorithm: str) -> tuple[Any, int]:
    """A hashlib object fed with what ``stream`` reads to its end, and how many bytes that was
    (chunks through one reused buffer)."""
    h = hashlib.new(algorithm)
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    total = 0
    while True:
        n = stream.readinto(buffer)
        if not n:
            break
        h.update(view[:n])
        total += n
    return h, total


def hash_file(path: str | os.PathLike[str], algorithm: str) -> tuple[Any, int]:
    """A hashlib object fed with the bytes of the file at ``path``, and their number."""
    with open(path, "rb", buffering=0) as stream:
        return hash_stream(stream, algorithm)


#: (source device, target directory device) pairs a reflink failed between: asked again, they
#: fail at once, without creating (and removing) a file each time.
_NO_REFLINK: set[tuple[int, int]] = set()

#: The errors of a filesystem (or a pair of them) that cannot share blocks.
_CANNOT_SHARE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS}


def reflink(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Makes ``target`` (a new file) share the blocks of ``source``; ``OSError`` where the file
    system cannot (``target`` is then removed). A pair of devices that could not is remembered
    for the process, and fails at once the next time."""
    import fcntl

    with open(source, "rb") as src:
        pair = (os.fstat(src.fileno()).st_dev, os.stat(os.path.dirname(target) or ".").st_dev)
        if pair in _NO_REFLINK:
            raise OSError(errno.EOPNOTSUPP, "reflinks are not possible here", str(target))
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.ioctl(fd, FICLONE, src.fileno())
        except BaseException as exc:
            os.close(fd)
            remove_quietly(target)
            if isinstance(exc, OSError) and exc.errno in _CANNOT_SHARE:
                _NO_REFLINK.add(pair)
            raise
        os.close(fd)


def temporary_beside(path: str | os.PathLike[str], suffix: str = ".tmp") -> Path:
    """A fresh, unused name in ``path``'s directory for writing before a rename."""
    target = Path(path)
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}{suffix}")


def remove_quietly(path: str | os.PathLike[str]) -> None:
    """Removes a file if it is there (a temporary on the way out of a failure)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
