"""An object store: content-addressed objects on any fsspec filesystem.

An :class:`ObjectStore` is a filesystem and a root; each object lives at ``<root>/<oid.path>``
(``files/<algorithm>/<hex[:2]>/<hex[2:]>``, DVC 3's layout). The same class serves the local
cache, a local directory remote, S3 (s3fs, any endpoint) and SSH (sshfs).

Contracts:

- Writes are atomic: an object is never visible under its name before all its bytes are there.
  Local and SFTP stores write a temporary and rename it; object stores (S3, GCS, Azure) need no
  temporary, since a PUT or a completed multipart upload appears whole or not at all. A failed
  write leaves nothing behind.
- Every object that lands on the local filesystem is hash-verified (:meth:`get_file`,
  :func:`mltrail.data.transfer.transfer`); a download that is cut off resumes where it stopped.
- Existence checks are batched (:meth:`exists_many`): many ids are answered by one recursive
  listing, a few by parallel ``info`` calls; never one request per object for a large set.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from mltrail.data import _files
from mltrail.data._manifest import parse_manifest
from mltrail.data._oid import FILES, Oid, path_to_oid
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

__all__ = ["LISTING_THRESHOLD", "ObjectStore", "default_jobs", "open_remote"]

#: Above this many ids, :meth:`ObjectStore.exists_many` may list the tree instead of asking each.
LISTING_THRESHOLD = 64

#: A listing is chosen while the store holds at most this many objects per id asked: an S3
#: listing page holds 1,000 objects, and 16 parallel requests answer 16 ids in the same time.
LISTING_RATIO = 64

#: Protocols whose single PUT (or completed multipart upload) is atomic: no temporary needed.
OBJECT_STORE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "oss"})

#: Protocols whose filesystems cache directory listings unless told not to.
LISTING_CACHES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})

#: The directory of a local store that holds temporaries and partial downloads.
TMP = "tmp"

#: Largest manifest read into memory (a manifest of a million files is ~100 MB).
MAX_MANIFEST_BYTES = 1 << 30

#: Multipart part size for uploads to object stores (larger for objects over 80 GB).
PART_SIZE = 8 << 20

#: Parts of a multipart upload, kept under S3's limit of 10,000.
MAX_PARTS = 9000


def default_jobs() -> int:
    """Parallel transfers when none are asked for: ``min(16, 4 * cpu count)``."""
    return min(16, 4 * (os.cpu_count() or 1))


def _protocols(fs: Any) -> set[str]:
    protocol = fs.protocol
    return {protocol} if isinstance(protocol, str) else set(protocol)


def _mtime(info: Mapping[str, Any]) -> float:
    """Modification time of a listing entry, as the filesystems name it, in seconds."""
    for key in ("mtime", "LastModified", "last_modified", "modified", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return 0.0


class ObjectStore:
    """Content-addressed objects under ``root`` of the fsspec filesystem ``fs``."""

    #: Whether every object here was verified as it landed (the cache), so that a copy from
    #: here to a local store needs no second check.
    trusted = False

    def __init__(self, fs: Any, root: str, *, url: str | None = None) -> None:
        self.fs = fs
        self.root = str(fs._strip_protocol(str(root))).rstrip("/") or "/"
        protocols = _protocols(fs)
        #: Whether objects are files of this machine (cache, local directory remote).
        self.is_local = "file" in protocols or "local" in protocols
        self._atomic_put = bool(protocols & OBJECT_STORE_PROTOCOLS)
        #: Where this store is, for messages (``s3://bucket/prefix``, ``/data/cache``...).
        self.url = url or (self.root if self.is_local else str(fs.unstrip_protocol(self.root)))
        self._made: set[str] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    # ---------------------------------------------------------------------------------- paths

    def path(self, oid: Oid) -> str:
        """The object's full path on :attr:`fs`."""
        return f"{self.root.rstrip('/')}/{oid.path}"

    def local_path(self, oid: Oid) -> Path:
        """The object's path on this machine (local stores only)."""
        if not self.is_local:
            raise InvalidArgumentError(f"{self.url} is not on the local filesystem")
        return Path(self.path(oid))

    @property
    def tmp_dir(self) -> Path:
        """The directory of temporaries and partial downloads of a local store."""
        return Path(self.root) / TMP

    def partial_path(self, oid: Oid) -> Path:
        """Where a download of ``oid`` into this (local) store is kept until it is complete."""
        suffix = ".dir" if oid.is_dir else ""
        return self.tmp_dir / f"{oid.algorithm}-{oid.hexdigest}{suffix}.partial"

    def _relative(self, name: str) -> str | None:
        name = str(self.fs._strip_protocol(name))
        prefix = self.root.rstrip("/") + "/"
        return name[len(prefix) :] if name.startswith(prefix) else None

    # ------------------------------------------------------------------------------ existence

    def exists(self, oid: Oid) -> bool:
        """Whether the object is there."""
        return oid in self.exists_many([oid])

    def exists_many(self, oids: Iterable[Oid], *, jobs: int | None = None) -> set[Oid]:
        """The ids among ``oids`` whose objects are there (see :meth:`sizes`)."""
        return set(self.sizes(oids, jobs=jobs))

    def sizes(self, oids: Iterable[Oid], *, jobs: int | None = None) -> dict[Oid, int]:
        """Size in bytes of each object among ``oids`` that is there (absent ones are left out).

        Few ids (at most :data:`LISTING_THRESHOLD` of one algorithm) are asked one by one, in
        parallel threads. More are answered by one recursive listing of ``files/<algorithm>/``,
        unless the store holds far more objects than are asked for (estimated from the listing
        of one fan-out directory: more than :data:`LISTING_RATIO` per id asked), where asking
        each costs less than listing everything.
        """
        wanted = set(oids)
        found: dict[Oid, int] = {}
        for algorithm in sorted({oid.algorithm for oid in wanted}):
            group = {oid for oid in wanted if oid.algorithm == algorithm}
            if self._should_list(algorithm, group):
                for oid, size, _ in self._listing(f"{FILES}/{algorithm}"):
                    if oid in group:
                        found[oid] = size
            else:
                found.update(self._infos(group, jobs))
        return found

    def _should_list(self, algorithm: str, group: set[Oid]) -> bool:
        if len(group) <= LISTING_THRESHOLD:
            return False
        if self.is_local:
            return True  # a local listing costs no round trips
        prefix = min(group).hexdigest[:2]
        try:
            sample = len(self.fs.ls(f"{self.root.rstrip('/')}/{FILES}/{algorithm}/{prefix}"))
        except FileNotFoundError:
            sample = 0
        return sample * 256 <= len(group) * LISTING_RATIO

    def _infos(self, oids: set[Oid], jobs: int | None) -> dict[Oid, int]:
        def size(oid: Oid) -> int | None:
            try:
                info = self.fs.info(self.path(oid))
            except FileNotFoundError:
                return None
            if info.get("type") == "directory":
                return None
            return int(info.get("size") or 0)

        ordered = sorted(oids)
        if len(ordered) <= 1:
            sizes = [size(oid) for oid in ordered]
        else:
            with ThreadPoolExecutor(min(len(ordered), jobs or default_jobs())) as pool:
                sizes = list(pool.map(size, ordered))
        return {oid: n for oid, n in zip(ordered, sizes) if n is not None}

    def _listing(self, under: str) -> Iterator[tuple[Oid, int, float]]:
        base = f"{self.root.rstrip('/')}/{under}"
        try:
            entries = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return
        for name, info in entries.items():
            if info.get("type") == "directory":
                continue
            relative = self._relative(name)
            oid = path_to_oid(relative) if relative is not None else None
            if oid is not None:
                yield oid, int(info.get("size") or 0), _mtime(info)

    def walk(self) -> Iterator[tuple[Oid, int, float]]:
        """(id, size, modification time) of every object; temporaries and stray files are
        skipped. One recursive listing."""
        yield from self._listing(FILES)

    # ---------------------------------------------------------------------------------- reads

    def open(self, oid: Oid) -> BinaryIO:
        """The object opened for reading (a binary file object); NotFoundError when absent."""
        try:
            return self.fs.open(self.path(oid), "rb", block_size=PART_SIZE)
        except FileNotFoundError:
            raise NotFoundError(f"object {oid} is not in {self.url}") from None

    def read_bytes(self, oid: Oid) -> bytes:
        """A small object's bytes (a manifest), verified against its digest: a corrupt or
        truncated object is a FailedPreconditionError, as is one over :data:`MAX_MANIFEST_BYTES`."""
        import hashlib

        hasher = hashlib.new(oid.algorithm)
        chunks: list[bytes] = []
        total = 0
        with self.open(oid) as stream:
            while chunk := stream.read(_files.CHUNK_SIZE):
                total += len(chunk)
                if total > MAX_MANIFEST_BYTES:
                    raise FailedPreconditionError(
                        f"object {oid} in {self.url} is too large to read whole"
                    )
                hasher.update(chunk)
                chunks.append(chunk)
        if hasher.hexdigest() != oid.hexdigest:
            raise FailedPreconditionError(corrupt_message(oid, self))
        return b"".join(chunks)

    def read_manifest(self, oid: Oid) -> list[tuple[str, Oid]]:
        """(relative path, file id) of each file of a directory object, verified."""
        if not oid.is_dir:
            raise InvalidArgumentError(f"{oid} is a file, not a directory manifest")
        entries = parse_manifest(self.read_bytes(oid), oid.algorithm, name=f"object {oid}")
        try:
            return [(relpath, oid.file(hexdigest)) for relpath, hexdigest in entries]
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(f"object {oid} lists a bad digest: {exc}") from None

    def get_file(self, oid: Oid, local_path: str | os.PathLike[str]) -> int:
        """Downloads the object to ``local_path``, verified and resumable (see
        :func:`mltrail.data._download.download`); returns the bytes received."""
        from mltrail.data._download import download

        target = Path(local_path)
        partial = target.with_name(f".{target.name}.partial")
        return download(self, oid, target, partial)

    # --------------------------------------------------------------------------------- writes

    def put_file(self, oid: Oid, local_path: str | os.PathLike[str]) -> int:
        """Stores the file at ``local_path`` as ``oid`` (atomically; not verified: the caller
        knows the file's digest). Returns the bytes written."""
        if self.is_local:
            return self._put_local(oid, Path(local_path))
        with open(local_path, "rb") as source:
            return self.write_stream(oid, source, size=os.fstat(source.fileno()).st_size)

    def _put_local(self, oid: Oid, source: Path) -> int:
        target = self.local_path(oid)
        temporary = self._local_temporary()
        try:
            try:
                _files.reflink(source, temporary)
                size = os.stat(temporary).st_size
            except OSError:
                size = _files.copy_file(source, temporary)
            self._land(temporary, target)
        except BaseException:
            _files.remove_quietly(temporary)
            raise
        return size

    def _local_temporary(self) -> Path:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return _files.temporary_beside(self.tmp_dir / "object")

    def _land(self, temporary: Path, target: Path) -> None:
        """Renames a complete local temporary to its object's name, read-only. The fan-out
        directory is made when the rename finds it missing (not asked for at every object)."""
        os.chmod(temporary, _files.READ_ONLY)
        try:
            os.replace(temporary, target)
        except FileNotFoundError:
            if not temporary.exists():
                raise
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, target)

    def write_stream(
        self, oid: Oid, source: Any, on_bytes: Any = None, *, size: int | None = None
    ) -> int:
        """Stores what ``source`` (a binary file object) reads as ``oid``, atomically; returns
        the bytes written. ``size``, when known, sizes the parts of a multipart upload (an object
        store takes at most 10,000 parts). ``on_bytes`` is told each chunk's size."""
        target = self.path(oid)
        if self.is_local:
            temporary = self._local_temporary()
            try:
                with open(temporary, "xb") as out:
                    size = _files.copy_stream(source, out, on_bytes=on_bytes)
                self._land(temporary, Path(target))
            except BaseException:
                _files.remove_quietly(temporary)
                raise
            return size
        if self._atomic_put:
            return self._write_object(target, source, on_bytes, size)
        parent = target.rsplit("/", 1)[0]
        self._makedirs(parent)
        remote_temporary = f"{parent}/{_files.temporary_beside(target).name}"
        try:
            with self.fs.open(remote_temporary, "wb") as out:
                size = _files.copy_stream(source, out, on_bytes=on_bytes)
            self.fs.mv(remote_temporary, target)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm(remote_temporary)
            raise
        return size

    def _write_object(self, target: str, source: Any, on_bytes: Any, size: int | None) -> int:
        part = max(PART_SIZE, -(-(size or 0) // MAX_PARTS))
        out = self.fs.open(target, "wb", block_size=part)
        try:
            size = _files.copy_stream(source, out, on_bytes=on_bytes)
        except BaseException:
            # An unfinished multipart upload is aborted: nothing appears under the name.
            with contextlib.suppress(Exception):
                out.discard()
            out.closed = True
            raise
        out.close()
        return size

    def _makedirs(self, directory: str) -> None:
        with self._lock:
            if directory in self._made:
                return
        self.fs.makedirs(directory, exist_ok=True)
        with self._lock:
            self._made.add(directory)

    def remove(self, oids: Iterable[Oid]) -> int:
        """Removes the objects (absent ones are ignored); returns how many were removed."""
        removed = 0
        for oid in sorted(set(oids)):
            path = self.path(oid)
            try:
                if self.is_local:
                    target = Path(path)
                    with contextlib.suppress(OSError):
                        os.chmod(target, stat.S_IWUSR | _files.READ_ONLY)
                    target.unlink()
                else:
                    self.fs.rm_file(path)
            except FileNotFoundError:
                continue
            removed += 1
        return removed


def corrupt_message(oid: Oid, store: ObjectStore) -> str:
    """The message for an object whose bytes do not hash to its id."""
    return (
        f"object {oid} in {store.url} is corrupt or truncated: its bytes do not hash to its id; "
        "nothing was stored. Remove it there and push it again from a site that has it, then retry"
    )


def open_remote(url: str, options: Mapping[str, Any] | None = None) -> ObjectStore:
    """The object store at ``url`` (a path, ``file://``, ``memory://``, ``s3://bucket/prefix``,
    ``ssh://user@host:port/path``...) through ``fsspec.core.url_to_fs``.

    ``options`` go to the filesystem. For S3: ``endpoint_url`` (default ``$AWS_ENDPOINT_URL``),
    ``profile``, ``key``/``secret``, and credentials from the AWS environment and profiles as
    s3fs finds them. For SSH: ``client_keys``, ``known_hosts``, ``password``... A missing
    optional package is a FailedPreconditionError naming the extra to install.
    """
    from mltrail.data._remotes import filesystem

    given = dict(options or {})
    if url.split("://", 1)[0].lower() in LISTING_CACHES:
        # Their listings would be cached for the life of the process (fsspec reuses the
        # instance): an object another site pushed since would stay invisible.
        given.setdefault("use_listings_cache", False)
    fs, root = filesystem(url, given)
    return ObjectStore(fs, root, url=url)
