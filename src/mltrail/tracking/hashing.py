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

import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltrail._project import absolute
from mltrail.data._manifest import manifest_bytes, stat_path, walk_files
from mltrail.errors import FailedPreconditionError, InvalidArgumentError
from mltrail.tracking._memo import Entry, HashMemo

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
        st = stat_path(str(target))
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
                st = stat_path(path)
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
        manifest: list[tuple[str, str]] = []
        entries: list[Entry] = []
        size = 0
        for relpath, path, file_st in walk_files(str(root), st):
            hexdigest, file_st, entry = self._file(path, file_st)
            if entry is not None:
                entries.append(entry)
            manifest.append((relpath, hexdigest))
            size += file_st.st_size
        if entries and self.memo is not None:
            self.memo.put(self.algorithm, entries, started)
        text = manifest_bytes(manifest, self.algorithm)
        hexdigest = hashlib.new(self.algorithm, text).hexdigest()
        return ContentDigest(
            self.algorithm, hexdigest, size, is_directory=True, file_count=len(manifest)
        )
