"""Copying objects between two object stores: only what the destination lacks, verified, in
parallel, directory manifests last.

:func:`transfer` expands directory ids to their files (reading each manifest from the source,
verified), asks the destination which objects it has (batched, see
:meth:`~mltrail.data.odb.ObjectStore.exists_many`), asks the source the sizes of the rest (the
same way: absent ones are ``missing``), then copies files in a thread pool and, once every file
of a directory is at the destination, its manifest: a present manifest implies present files.

Downloads to a local store are hash-verified and resumable (:mod:`mltrail.data._download`),
except copies from the cache to a local directory (the cache verified its objects as they came);
uploads are atomic per object and restart per object (objects already there are skipped). Errors
of one object do not stop the others: they are reported in :attr:`TransferReport.failed`.
Memory is bounded: every object streams in chunks.
"""

from __future__ import annotations

import errno
import io
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from mltrail.data._download import download
from mltrail.data._oid import Oid
from mltrail.data._remotes import remote_error
from mltrail.data.odb import ObjectStore, default_jobs
from mltrail.errors import InvalidArgumentError, MltrailError, NotFoundError

__all__ = ["Progress", "TransferReport", "transfer"]

T = TypeVar("T")


class Progress(Protocol):
    """Told the totals once, then each object's bytes as they move (from worker threads, one
    call at a time)."""

    def start(self, total_objects: int, total_bytes: int) -> None: ...

    def advance(self, objects: int, nbytes: int) -> None: ...


@dataclass
class TransferReport:
    """The outcome of a transfer.

    ``transferred``: objects copied; ``skipped``: objects the destination already had;
    ``bytes``: bytes copied; ``missing``: ids the source lacks; ``failed``: id → what went wrong
    (a corrupt object, a transport error, a directory whose files did not all arrive).
    """

    transferred: int = 0
    skipped: int = 0
    bytes: int = 0
    missing: set[Oid] = field(default_factory=set)
    failed: dict[Oid, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every object asked for is at the destination."""
        return not self.missing and not self.failed


def as_oid(value: Oid | str) -> Oid:
    if isinstance(value, Oid):
        return value
    if isinstance(value, str):
        return Oid.parse(value)
    raise InvalidArgumentError(f"expected an Oid or an object id text, got {value!r}")


class _Meter:
    """Serializes progress calls from worker threads and counts bytes."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.lock = threading.Lock()

    def start(self, objects: int, nbytes: int) -> None:
        if self.progress is not None:
            self.progress.start(objects, nbytes)

    def advance(self, objects: int, nbytes: int) -> None:
        if self.progress is not None:
            with self.lock:
                self.progress.advance(objects, nbytes)


def transfer(
    src: ObjectStore,
    dst: ObjectStore,
    oids: Iterable[Oid | str],
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """Makes every object of ``oids`` (directories with their files) present at ``dst``,
    copying from ``src`` only what ``dst`` lacks. Never raises for one object's failure: see
    the report's ``missing`` and ``failed``."""
    workers = jobs or default_jobs()
    if workers < 1:
        raise InvalidArgumentError(f"jobs must be at least 1, got {jobs}")
    if jobs is None and src.is_local and dst.is_local:
        # Both ends on this machine: no latency to hide, only disks and cores to keep busy;
        # more threads than cores made copies slower (1.24x the time of a plain copy with 8
        # threads on 2 cores, 1.04x with 2).
        workers = min(workers, os.cpu_count() or 1)
    report = TransferReport()
    wanted = {as_oid(value) for value in oids}
    present = _ask(dst, lambda: dst.exists_many(wanted, jobs=workers))
    report.skipped += len(present)
    dirs = sorted(oid for oid in wanted - present if oid.is_dir)
    files = {oid for oid in wanted - present if not oid.is_dir}

    manifests = _read_manifests(src, dirs, workers, report)
    members = {member for entries in manifests.values() for member in entries[1]} - files
    if members:
        members_present = _ask(dst, lambda: dst.exists_many(members, jobs=workers))
        report.skipped += len(members_present)
        files |= members - members_present
    sizes = _ask(src, lambda: src.sizes(files, jobs=workers))
    report.missing |= files - set(sizes)

    meter = _Meter(progress)
    meter.start(
        len(sizes) + len(manifests),
        sum(sizes.values()) + sum(len(data) for data, _ in manifests.values()),
    )
    lock = threading.Lock()
    halted: list[str] = []  # why the transfer stopped: an end that no longer answers

    def copy(oid: Oid) -> None:
        if halted:
            with lock:
                report.failed[oid] = f"not attempted: {halted[0]}"
            return
        try:
            nbytes = _copy(src, dst, oid, sizes[oid], lambda n: meter.advance(0, n))
        except NotFoundError:  # the source lacks it (a FileNotFoundError is the destination's)
            with lock:
                report.missing.add(oid)
            return
        except Exception as exc:
            with lock:
                report.failed[oid] = _describe(exc)
                if connection_lost(exc) and not halted:
                    halted.append(f"the connection failed earlier ({_describe(exc)})")
            return
        meter.advance(1, 0)
        with lock:
            report.transferred += 1
            report.bytes += nbytes

    _run(copy, sorted(sizes), workers)

    arrived = set(files) - report.missing - set(report.failed)

    def land_manifest(oid: Oid) -> None:
        data, entries = manifests[oid]
        lacking = [member for member in entries if member in files and member not in arrived]
        if lacking:
            with lock:
                report.failed[oid] = (
                    f"{len(lacking)} of its {len(entries)} files did not arrive (first: "
                    f"{lacking[0]}); its manifest was not written"
                )
            return
        copy_manifest(oid, data)

    def copy_manifest(oid: Oid, data: bytes) -> None:
        try:
            dst.write_stream(oid, io.BytesIO(data))
        except Exception as exc:
            with lock:
                report.failed[oid] = _describe(exc)
            return
        meter.advance(1, len(data))
        with lock:
            report.transferred += 1
            report.bytes += len(data)

    _run(land_manifest, sorted(manifests), workers)
    return report


def _read_manifests(
    src: ObjectStore, dirs: list[Oid], workers: int, report: TransferReport
) -> dict[Oid, tuple[bytes, list[Oid]]]:
    """Each directory's verified manifest bytes and member ids; the others go to the report."""
    found: dict[Oid, tuple[bytes, list[Oid]]] = {}
    lock = threading.Lock()

    def read(oid: Oid) -> None:
        try:
            data = src.read_bytes(oid)
            from mltrail.data._manifest import parse_manifest

            entries = parse_manifest(data, oid.algorithm, name=f"object {oid}")
            members = [oid.file(hexdigest) for _, hexdigest in entries]
        except NotFoundError:
            with lock:
                report.missing.add(oid)
            return
        except Exception as exc:
            with lock:
                report.failed[oid] = _describe(exc)
            return
        with lock:
            found[oid] = (data, members)

    _run(read, dirs, workers)
    return found


def _copy(
    src: ObjectStore, dst: ObjectStore, oid: Oid, size: int, on_bytes: Callable[[int], None]
) -> int:
    if dst.is_local and src.is_local and src.trusted:
        source = src.local_path(oid)
        if not source.is_file():
            raise NotFoundError(f"object {oid} is not in {src.url}")
        nbytes = dst.put_file(oid, source)  # a reflink where possible
        on_bytes(nbytes)
        return nbytes
    if dst.is_local:
        return download(src, oid, dst.local_path(oid), dst.partial_path(oid), on_bytes)
    with src.open(oid) as stream:
        return dst.write_stream(oid, stream, on_bytes, size=size)


def _run(fn: Callable[[Oid], None], oids: list[Oid], workers: int) -> None:
    if len(oids) <= 1 or workers == 1:
        for oid in oids:
            fn(oid)
        return
    with ThreadPoolExecutor(min(workers, len(oids))) as pool:
        list(pool.map(fn, oids))


def _ask(store: ObjectStore, question: Callable[[], T]) -> T:
    """The answer of a question to the whole store (which objects it has): a store that cannot
    answer stops the transfer with a typed error (see :func:`remote_error`)."""
    try:
        return question()
    except MltrailError:
        raise
    except Exception as exc:
        raise remote_error(store.url, exc) from exc


#: errno values of a connection that failed (refused, reset, unreachable, timed out).
_CONNECTION_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EPIPE,
    errno.ETIMEDOUT,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
}


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the other end stopped answering: then every
    later object would wait out the same retries, and the transfer stops trying new ones."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        if isinstance(current, OSError) and current.errno in _CONNECTION_ERRNOS:
            return True
        name = type(current).__name__
        if "Connect" in name or "ConnectionLost" in name or name.endswith("TimeoutError"):
            return True
        current = current.__cause__ or current.__context__
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MltrailError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"
