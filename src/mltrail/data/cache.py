"""The local cache: an object store on this machine that files are added to as they are logged.

``Cache(root)`` is an :class:`~mltrail.data.odb.ObjectStore` on the local filesystem at ``root``
(default :func:`default_cache_dir`: ``$MLTRAIL_CACHE``, else ``<project>/.mltrail/cache``).
:meth:`Cache.add` copies a file, or every file of a directory and then its manifest, into the
cache while hashing the bytes it copies, so what lands is exactly what was hashed: bytes that do
not hash to the expected id are refused ("changed since it was logged") and nothing of the call
is left behind. Objects already present are not copied again. Objects are read-only (0o444).
A copy is a reflink where the filesystem can share blocks, else a streamed copy.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mltrail._project import DIRECTORY, project_root, state_directory
from mltrail.data import _files
from mltrail.data._manifest import manifest_bytes, stat_path, walk_files
from mltrail.data._oid import Oid
from mltrail.data.odb import ObjectStore, default_jobs
from mltrail.errors import FailedPreconditionError, InvalidArgumentError

__all__ = ["CACHE_ENV", "AddReport", "Cache", "default_cache_dir"]

#: Environment variable naming the cache directory (shared by projects, like DVC's cache.dir).
CACHE_ENV = "MLTRAIL_CACHE"


def default_cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """``$MLTRAIL_CACHE`` when set, else ``<project root>/.mltrail/cache`` (``root`` defaults to
    the project around the current directory). Nothing is created."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        return Path(os.path.abspath(os.path.expanduser(configured)))
    base = Path(root) if root is not None else project_root()
    return Path(os.path.abspath(base)) / DIRECTORY / "cache"


@dataclass
class AddReport:
    """What :meth:`Cache.add` did: objects copied in, objects already there, bytes copied."""

    added: int = 0
    skipped: int = 0
    bytes: int = 0

    def merge(self, other: AddReport) -> None:
        self.added += other.added
        self.skipped += other.skipped
        self.bytes += other.bytes


class Cache(ObjectStore):
    """The content-addressed cache at ``root`` on the local filesystem."""

    trusted = True

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        from fsspec.implementations.local import LocalFileSystem

        directory = Path(root) if root is not None else default_cache_dir()
        super().__init__(LocalFileSystem(), os.path.abspath(directory))
        self.directory = Path(self.root)
        self._landing = threading.Lock()

    def __repr__(self) -> str:
        return f"Cache({self.root!r})"

    def has(self, oid: Oid) -> bool:
        """Whether the object is in the cache (one ``stat``)."""
        return os.path.isfile(self.path(oid))

    def _local_temporary(self) -> Path:
        if self.directory.parent.name == DIRECTORY and not self.directory.parent.exists():
            state_directory(self.directory.parent.parent)  # with its .gitignore
        return super()._local_temporary()

    def add(self, path: str | os.PathLike[str], oid: Oid | str) -> AddReport:
        """Puts the file or directory at ``path`` into the cache as ``oid``.

        A directory's files become objects and its manifest the ``oid`` object, written last (a
        present manifest implies its files are present). FailedPreconditionError when the bytes
        do not hash to ``oid`` (the file changed since it was logged): then nothing this call
        copied stays. InvalidArgumentError when ``path`` is a file and ``oid`` a directory (or
        the reverse); NotFoundError when it does not exist.
        """
        oid = Oid.parse(oid) if isinstance(oid, str) else oid
        source = Path(os.path.abspath(path))
        st = stat_path(str(source))
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir != oid.is_dir:
            kind = "a directory" if is_dir else "a file"
            raise InvalidArgumentError(
                f"{source} is {kind} but {oid} names a {'directory' if oid.is_dir else 'file'}"
            )
        if self.has(oid):
            return AddReport(skipped=1)
        try:
            if not is_dir:
                if not stat.S_ISREG(st.st_mode):
                    raise InvalidArgumentError(
                        f"{source} is neither a regular file nor a directory"
                    )
                _, report = self._add_file(source, oid.algorithm, oid)
                return report
            return self._add_directory(source, st, oid)
        except OSError as exc:  # nothing of the call is left (see _add_file, _add_directory)
            raise FailedPreconditionError(self._io_failure(source, exc)) from None

    def _io_failure(self, source: Path, exc: OSError) -> str:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"no space left in the cache {self.root} for {source}; nothing was added. Free "
                f"space there (mltrail gc), or set {CACHE_ENV} to a cache with room, and retry"
            )
        return (
            f"cannot copy {source} into the cache {self.root}: {exc.strerror or exc}; make the "
            f"cache's directory writable, or choose another ({CACHE_ENV}, or the Tracker's "
            "cache=DIRECTORY; cache=False logs metadata only), and retry"
        )

    def _add_directory(self, source: Path, st: os.stat_result, oid: Oid) -> AddReport:
        report = AddReport()
        landed: list[Oid] = []
        try:
            members = list(walk_files(str(source), st))
            added = self._add_files([Path(path) for _, path, _ in members], oid.algorithm, landed)
            entries: list[tuple[str, str]] = []
            for (relpath, _, _), (member_oid, part) in zip(members, added):
                report.merge(part)
                entries.append((relpath, member_oid.hexdigest))
            data = manifest_bytes(entries, oid.algorithm)
            if hashlib.new(oid.algorithm, data).hexdigest() != oid.hexdigest:
                raise FailedPreconditionError(_changed(source, oid))
            temporary = self._local_temporary()
            try:
                with open(temporary, "xb") as out:
                    out.write(data)
                self._land(temporary, self.local_path(oid))
            except BaseException:
                _files.remove_quietly(temporary)
                raise
        except BaseException:
            self.remove(landed)
            raise
        report.added += 1
        report.bytes += len(data)
        return report

    def _add_files(
        self, sources: list[Path], algorithm: str, landed: list[Oid]
    ) -> list[tuple[Oid, AddReport]]:
        """:meth:`_add_file` of each source, in parallel threads (hashing and copying release
        the GIL); every object that landed is appended to ``landed``, also when one failed
        (then the first failure is raised once all are done)."""
        lock = threading.Lock()

        def add(source: Path) -> tuple[Oid, AddReport]:
            result = self._add_file(source, algorithm, None)
            if result[1].added:
                with lock:
                    landed.append(result[0])
            return result

        if len(sources) <= 1:
            return [add(source) for source in sources]
        with ThreadPoolExecutor(min(len(sources), default_jobs())) as pool:
            futures = [pool.submit(add, source) for source in sources]
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error
        return [future.result() for future in futures]

    def _add_file(
        self, source: Path, algorithm: str, expected: Oid | None
    ) -> tuple[Oid, AddReport]:
        """Copies one file in while hashing the copy; the file's id and what was done."""
        temporary = self._local_temporary()
        try:
            try:
                _files.reflink(source, temporary)
                hasher, size = _files.hash_file(temporary, algorithm)
            except OSError:
                hasher = hashlib.new(algorithm)
                with open(source, "rb") as src, open(temporary, "xb") as out:
                    size = _files.copy_stream(src, out, hasher)
            actual = Oid(algorithm, hasher.hexdigest())
            if expected is not None and actual != expected:
                raise FailedPreconditionError(_changed(source, expected))
            with self._landing:  # two equal files added at once: one lands, one is skipped
                if self.has(actual):
                    _files.remove_quietly(temporary)
                    return actual, AddReport(skipped=1)
                self._land(temporary, self.local_path(actual))
        except BaseException:
            _files.remove_quietly(temporary)
            raise
        return actual, AddReport(added=1, bytes=size)


def _changed(source: Path, oid: Oid) -> str:
    return (
        f"{source} changed since it was logged as {oid}: its bytes hash differently now, so they "
        "were not put into the cache. Restore the logged version, or log the new one"
    )
