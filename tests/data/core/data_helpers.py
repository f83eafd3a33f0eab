"""Helpers of the storage tests: objects made from bytes, and a filesystem that counts."""

from __future__ import annotations

import hashlib
import io
import threading
from collections import Counter
from typing import Any

from mltrail.data import ObjectStore, Oid
from mltrail.data._manifest import manifest_bytes


def oid_of(data: bytes, algorithm: str = "sha256") -> Oid:
    return Oid(algorithm, hashlib.new(algorithm, data).hexdigest())


def put(store: ObjectStore, data: bytes, algorithm: str = "sha256") -> Oid:
    """Stores ``data`` as an object of ``store``; its id."""
    oid = oid_of(data, algorithm)
    store.write_stream(oid, io.BytesIO(data))
    return oid


def put_directory(
    store: ObjectStore, files: dict[str, bytes], algorithm: str = "sha256"
) -> tuple[Oid, dict[str, Oid]]:
    """Stores each file and then the manifest of a directory; (directory id, path → file id)."""
    members = {relpath: put(store, data, algorithm) for relpath, data in files.items()}
    manifest = manifest_bytes(
        [(relpath, oid.hexdigest) for relpath, oid in members.items()], algorithm
    )
    digest = hashlib.new(algorithm, manifest).hexdigest()
    oid = Oid(algorithm, digest, True)
    store.write_stream(oid, io.BytesIO(manifest))
    return oid, members


def overwrite(store: ObjectStore, oid: Oid, data: bytes) -> None:
    """Replaces an object's bytes behind the store's back (a corrupted remote)."""
    path = store.path(oid)
    if store.is_local:
        import os

        os.chmod(path, 0o644)
    with store.fs.open(path, "wb") as out:
        out.write(data)


class CountingFile:
    """A file object that counts the bytes read through it and the largest single read."""

    def __init__(self, inner: Any, counter: CountingFS) -> None:
        self.inner = inner
        self.counter = counter

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.inner.read(size)
        self.counter.record_read(len(data))
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.counter.record_read(len(data))
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __enter__(self) -> CountingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.close()


class CountingFS:
    """Wraps an fsspec filesystem: counts each method call, and bytes read from opened files.

    ``fail_after``: when set, a read fails with ``ConnectionError`` once that many bytes were
    read in total (a connection cut mid-transfer).
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.bytes_read = 0
        self.largest_read = 0
        self.fail_after: int | None = None
        self._lock = threading.Lock()

    def record_read(self, n: int) -> None:
        with self._lock:
            self.bytes_read += n
            self.largest_read = max(self.largest_read, n)
            if self.fail_after is not None and self.bytes_read >= self.fail_after:
                raise ConnectionError("connection reset by peer (test)")

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_read = 0
        self.largest_read = 0

    @property
    def requests(self) -> int:
        """Calls that would each be a round trip to a remote filesystem."""
        return sum(n for name, n in self.calls.items() if not name.startswith("_"))

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        with self._lock:
            self.calls["open"] += 1
        opened = self.inner.open(path, mode, **kwargs)
        return CountingFile(opened, self) if "r" in mode else opened

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value) or name in ("_strip_protocol", "unstrip_protocol"):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return value(*args, **kwargs)

        return counted
