"""Content digests of files and directories: the identity of tracked artifacts.

A file's digest is the hash of its bytes (``sha256`` by default; ``md5`` gives DVC's file hashes).
A directory's digest is the hash of its manifest, DVC's ``.dir`` format: the JSON list, sorted by
path, of ``{"<algorithm>": <file digest>, "relpath": <POSIX path inside the directory>}`` for
every regular file below it, serialized with ``json.dumps(..., sort_keys=True)``; the value gets
a ``.dir`` suffix. With ``md5`` this is DVC 3's directory hash.

Symbolic links are followed: a link inside a directory enters the manifest under its own path
there, with the content of what it points to (a linked directory's files under the link's path).
A link that leads back to a directory being walked, or a loop of links, is an
``InvalidArgumentError``, as is an entry that cannot be read; dangling links, sockets, pipes and
devices are left out.

A file is stat-ed before and after it is read; when it changed meanwhile (size, mtime, ctime or
inode), it is read again, and after :data:`READ_ATTEMPTS` tries the digest is refused with a
``FailedPreconditionError`` instead of recording bytes that never existed together.

Files are read in 1 MiB chunks into one reused buffer (hashlib releases the GIL while it hashes),
and a :class:`~mltrail.tracking._memo.HashMemo` spares re-reading files whose size, mtime and inode
have not changed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.tracking._memo import Entry, HashMemo
from mltrail.tracking._project import absolute

__all__ = ["ALGORITHMS", "ContentDigest", "Hasher", "digest_document"]

ALGORITHMS = ("sha256", "md5")
"""The supported hash algorithms; ``sha256`` is the default."""

CHUNK_SIZE = 1 << 20

#: How often a file that changes while it is read is read again before giving up.
READ_ATTEMPTS = 3


@dataclass(frozen=True)
class ContentDigest:
    """The content identity of a file or a directory.

    ``value`` is the hex digest (with DVC's ``.dir`` suffix for directories); ``external_id``
    (``"sha256:<hex>"``, ``"md5:<hex>.dir"``...) is what identifies the artifact in a store.
    """

    algorithm: str
    hexdigest: str
    size: int
    is_directory: bool = False
    file_count: int = 1

    @property
    def value(self) -> str:
        return self.hexdigest + (".dir" if self.is_directory else "")

    @property
    def external_id(self) -> str:
        return f"{self.algorithm}:{self.value}"


def check_algorithm(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise InvalidArgumentError(
            f"hash algorithm {algorithm!r} is not supported; use one of {', '.join(ALGORITHMS)}"
        )
    return algorithm


def digest_document(document: Any, algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex>"`` of a JSON-like document in canonical form (sorted keys, compact).

    The identity of artifacts that are not files: metrics, step metrics, data slices, environments.
    """
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return f"{algorithm}:{hashlib.new(algorithm, text.encode('utf-8')).hexdigest()}"


def _hash_open_file(fd: int, algorithm: str) -> tuple[str, int]:
    """The hex digest of the bytes read from ``fd`` to its end, and how many there were."""
    h = hashlib.new(algorithm)
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    total = 0
    with open(fd, "rb", buffering=0, closefd=False) as stream:
        while True:
            n = stream.readinto(buffer)
            if not n:
                break
            h.update(view[:n])
            total += n
    return h.hexdigest(), total


def _unchanged(*stats: os.stat_result) -> bool:
    """Whether the stats describe the same, unmodified file (a write moves mtime or ctime)."""
    keys = {(s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for s in stats}
    return len(keys) == 1


class Hasher:
    """Digests files and directories with one algorithm, through an optional memo."""

    def __init__(self, algorithm: str = "sha256", memo: HashMemo | None = None) -> None:
        self.algorithm = check_algorithm(algorithm)
        self.memo = memo
        #: Bytes actually read and hashed by this hasher (not served by the memo).
        self.bytes_hashed = 0

    def digest(self, path: str | os.PathLike[str]) -> ContentDigest:
        """The digest of a file or a directory (symbolic links are followed)."""
        target = absolute(path)
        st = _stat(str(target))
        if stat.S_ISDIR(st.st_mode):
            return self._directory(target, st)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgumentError(f"{target} is neither a regular file nor a directory")
        started = time.time_ns()
        hexdigest, st, entry = self._file(str(target), st)
        if entry is not None and self.memo is not None:
            self.memo.put(self.algorithm, [entry], started)
        return ContentDigest(self.algorithm, hexdigest, st.st_size)

    def _file(self, path: str, st: os.stat_result) -> tuple[str, os.stat_result, Entry | None]:
        """The file's hex digest, the stat it is the digest of, and a memo entry when the file
        was actually hashed.

        A file written while it is read would get the digest of bytes that never existed
        together: the file is stat-ed before opening, after opening and after reading, and read
        again (up to :data:`READ_ATTEMPTS` times) unless all three agree and the bytes read are
        its size.
        """
        for attempt in range(READ_ATTEMPTS):
            if attempt:
                st = _stat(path)
                if not stat.S_ISREG(st.st_mode):
                    raise InvalidArgumentError(f"{path} is no longer a regular file")
            if self.memo is not None:
                known = self.memo.get(path, self.algorithm, st)
                if known is not None:
                    return known, st, None
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            except FileNotFoundError:
                continue  # replaced or removed since stat: look again
            except OSError as exc:
                raise InvalidArgumentError(f"cannot read {path}: {exc.strerror}") from None
            try:
                opened = os.fstat(fd)
                hexdigest, count = _hash_open_file(fd, self.algorithm)
                after = os.fstat(fd)
            finally:
                os.close(fd)
            self.bytes_hashed += count
            if count == st.st_size and _unchanged(st, opened, after):
                return hexdigest, st, (path, st, hexdigest)
        raise FailedPreconditionError(
            f"{path} changed while it was being hashed ({READ_ATTEMPTS} attempts); log it when "
            "it is no longer being written"
        )

    def _directory(self, root: Path, st: os.stat_result) -> ContentDigest:
        started = time.time_ns()
        manifest: list[dict[str, str]] = []
        entries: list[Entry] = []
        size = 0
        for relpath, path, file_st in _walk_files(str(root), st):
            hexdigest, file_st, entry = self._file(path, file_st)
            if entry is not None:
                entries.append(entry)
            manifest.append({self.algorithm: hexdigest, "relpath": relpath})
            size += file_st.st_size
        if entries and self.memo is not None:
            self.memo.put(self.algorithm, entries, started)
        manifest.sort(key=lambda item: item["relpath"])
        text = json.dumps(manifest, sort_keys=True).encode("utf-8")
        hexdigest = hashlib.new(self.algorithm, text).hexdigest()
        return ContentDigest(
            self.algorithm, hexdigest, size, is_directory=True, file_count=len(manifest)
        )


def _stat(path: str) -> os.stat_result:
    """``os.stat`` (following links) with typed errors."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist; log files that exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidArgumentError(
                f"{path} is a loop of symbolic links; point the link at a file or a directory"
            ) from None
        raise InvalidArgumentError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # an embedded NUL character
        raise InvalidArgumentError(f"{path!r} is not a valid path: {exc}") from None


def _walk_files(root: str, root_stat: os.stat_result) -> Iterator[tuple[str, str, os.stat_result]]:
    """(POSIX relative path, absolute path, stat) of every regular file below ``root``.

    Symbolic links are followed, to files and to directories alike, and appear under their own
    path inside ``root``. A link to a directory that is being walked (the directory itself or one
    of its parents) would make the walk endless: it is an error. Dangling links and entries that
    are neither files nor directories (sockets, pipes, devices) are left out.
    """
    active: set[tuple[int, int]] = {(root_stat.st_dev, root_stat.st_ino)}

    def walk(directory: str, prefix: str) -> Iterator[tuple[str, str, os.stat_result]]:
        try:
            with os.scandir(directory) as scan:
                children = sorted((entry.name, entry.path) for entry in scan)
        except OSError as exc:
            raise InvalidArgumentError(f"cannot list {directory}: {exc.strerror}") from None
        for name, path in children:
            try:
                st = _stat(path)
            except NotFoundError:  # a dangling symbolic link, or removed while walking
                continue
            relpath = prefix + name
            if stat.S_ISREG(st.st_mode):
                yield relpath, path, st
            elif stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in active:
                    raise InvalidArgumentError(
                        f"{path} leads back to a directory that contains it (a loop of symbolic "
                        "links); remove the link or point it outside the tracked directory"
                    )
                active.add(key)
                yield from walk(path, relpath + "/")
                active.discard(key)

    yield from walk(root, "")
