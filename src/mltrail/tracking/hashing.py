"""Content digests of files and directories: the identity of tracked artifacts.

A file's digest is the hash of its bytes (``sha256`` by default; ``md5`` gives DVC's file hashes).
A directory's digest is the hash of its manifest, DVC's ``.dir`` format: the JSON list, sorted by
path, of ``{"<algorithm>": <file digest>, "relpath": <POSIX path inside the directory>}`` for
every regular file below it, serialized with ``json.dumps(..., sort_keys=True)``; the value gets
a ``.dir`` suffix. With ``md5`` this is DVC 3's directory hash.

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.tracking._memo import Entry, HashMemo, stat_key

__all__ = ["ALGORITHMS", "ContentDigest", "Hasher", "digest_document"]

ALGORITHMS = ("sha256", "md5")
"""The supported hash algorithms; ``sha256`` is the default."""

CHUNK_SIZE = 1 << 20


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


def _hash_open_file(fd: int, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    with open(fd, "rb", buffering=0, closefd=False) as stream:
        while True:
            n = stream.readinto(buffer)
            if not n:
                break
            h.update(view[:n])
    return h.hexdigest()


class Hasher:
    """Digests files and directories with one algorithm, through an optional memo."""

    def __init__(self, algorithm: str = "sha256", memo: HashMemo | None = None) -> None:
        self.algorithm = check_algorithm(algorithm)
        self.memo = memo
        #: Bytes actually read and hashed by this hasher (not served by the memo).
        self.bytes_hashed = 0

    def digest(self, path: str | os.PathLike[str]) -> ContentDigest:
        """The digest of a file or a directory (symbolic links are followed)."""
        target = Path(os.path.abspath(os.fspath(path)))
        try:
            st = os.stat(target)
        except FileNotFoundError:
            raise NotFoundError(f"{target} does not exist; log files that exist") from None
        except OSError as exc:
            raise InvalidArgumentError(f"cannot read {target}: {exc.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            return self._directory(target)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgumentError(f"{target} is neither a regular file nor a directory")
        started = time.time_ns()
        hexdigest, entry = self._file(str(target), st)
        if entry is not None and self.memo is not None:
            self.memo.put(self.algorithm, [entry], started)
        return ContentDigest(self.algorithm, hexdigest, st.st_size)

    def _file(self, path: str, st: os.stat_result) -> tuple[str, Entry | None]:
        """The file's hex digest, and a memo entry when it was actually hashed."""
        if self.memo is not None:
            known = self.memo.get(path, self.algorithm, st)
            if known is not None:
                return known, None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            opened = os.fstat(fd)
            hexdigest = _hash_open_file(fd, self.algorithm)
            after = os.fstat(fd)
        finally:
            os.close(fd)
        self.bytes_hashed += after.st_size
        # Changed while read (or replaced since stat): the digest is right for what was read, but
        # must not be remembered under either stat.
        stable = stat_key(opened) == stat_key(after) == stat_key(st)
        return hexdigest, ((path, st, hexdigest) if stable else None)

    def _directory(self, root: Path) -> ContentDigest:
        started = time.time_ns()
        manifest: list[dict[str, str]] = []
        entries: list[Entry] = []
        size = 0
        for relpath, path, st in _walk_files(root):
            hexdigest, entry = self._file(path, st)
            if entry is not None:
                entries.append(entry)
            manifest.append({self.algorithm: hexdigest, "relpath": relpath})
            size += st.st_size
        if entries and self.memo is not None:
            self.memo.put(self.algorithm, entries, started)
        manifest.sort(key=lambda item: item["relpath"])
        text = json.dumps(manifest, sort_keys=True).encode("utf-8")
        hexdigest = hashlib.new(self.algorithm, text).hexdigest()
        return ContentDigest(
            self.algorithm, hexdigest, size, is_directory=True, file_count=len(manifest)
        )


def _walk_files(root: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """(POSIX relative path, absolute path, stat) of every regular file below ``root``."""
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            try:
                st = os.stat(path)
            except FileNotFoundError:  # a dangling symbolic link, or removed while walking
                continue
            if stat.S_ISREG(st.st_mode):
                yield Path(path).relative_to(root).as_posix(), path, st
