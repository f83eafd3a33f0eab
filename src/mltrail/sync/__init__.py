"""Sync: push and pull metadata between stores, merged by global identity (docs/sync.md).

``push(store, target)`` sends the changes ``target`` does not have yet; ``pull(store, source)``
brings in those of ``source``; ``sync(store, peer)`` does both. An end is a store object
(``mltrail.connect(...)``), a store URL or path, an mltrail server URL (``http://...``), a
bundle file (``*.mltrail``) for transfers without a network, or a configured remote
(:class:`~mltrail.sync.remotes.Remote`, by its metadata end). Artifact bytes are not metadata:
data ends (``s3://...``, directories) are refused here and served by :mod:`mltrail.data`.
Transfers go in batches, each applied in one transaction with the receiver's position advanced
in it, so an interrupted transfer resumes on the next call with nothing lost and nothing twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mltrail.errors import InvalidArgumentError, MltrailError
from mltrail.sync import _read
from mltrail.sync._apply import Applied
from mltrail.sync._peers import BundlePeer, Outgoing, Peer, StorePeer, _EndOfBundle, same_store
from mltrail.sync.remotes import Remote, is_data_url

#: Feed rows (or chosen entities) per batch.
BATCH_SIZE = 2000

Progress = Callable[["Report"], None]


@dataclass
class Report:
    """What a transfer did. ``records`` counts node records sent (a node with its properties
    and edges, or a node an edge points at); ``created``/``updated``/``unchanged`` say what the
    receiver did with them (unchanged: it had them already)."""

    source: str
    target: str
    batches: int = 0
    records: int = 0
    bytes: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    edges: int = 0
    types: int = 0
    position: int | None = None
    conflicts: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        return (
            f"{self.source} -> {self.target}: {self.batches} batch(es), {self.records} record(s), "
            f"{self.bytes:,} bytes; {self.created} created, {self.updated} updated, "
            f"{self.unchanged} already present, {self.edges} edge(s) added"
        )

    def _add(self, applied: Applied, size: int) -> None:
        self.batches += 1
        self.bytes += size
        self.records += applied.records
        self.created += applied.created
        self.updated += applied.updated
        self.unchanged += applied.unchanged
        self.edges += applied.edges
        self.types += applied.types


def peer(end: Any, *, token: str | None = None, target: bool = False) -> tuple[Peer, bool]:
    """The :class:`Peer` for what push/pull accept, and whether it was opened here
    (``target``: the end changes are sent to, which matters for a bundle file). A
    :class:`~mltrail.sync.remotes.Remote` stands for its metadata end (and its token)."""
    if isinstance(end, Peer):
        return end, False
    if isinstance(end, Remote):
        token = token if token is not None else end.token()
        end = end.metadata_url()  # refuses a data-only remote
    if isinstance(end, (str, os.PathLike)):
        text = os.fspath(end)
        if is_data_url(text) or os.path.isdir(text):
            raise InvalidArgumentError(
                f"cannot sync with {text}: it is a data end (a place for artifact bytes); "
                "sync moves metadata with a store, a store URL, a server URL or a bundle "
                "path; move artifact bytes with mltrail.data.push/pull"
            )
        if text.endswith(BundlePeer.SUFFIX):
            return BundlePeer(text, target=target), True
        if text.split("://", 1)[0].lower() in ("http", "https"):
            from mltrail.sync._http import HttpPeer

            return HttpPeer(text, token=token), True
        import mltrail

        return StorePeer(mltrail.connect(text), owned=True), True
    if hasattr(end, "_transport") and hasattr(end, "url"):  # a RemoteStore
        from mltrail.sync._http import HttpPeer

        return HttpPeer(end.url, token=token, store=end), False
    if hasattr(end, "database"):
        return StorePeer(end), False
    raise MltrailError(
        f"cannot sync with {end!r}: give a store, a store URL, a server URL or a bundle path"
    )


def push(
    store: Any,
    target: Any,
    *,
    context: int | str | None = None,
    artifact: int | None = None,
    execution: int | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    token: str | None = None,
) -> Report:
    """Send ``store``'s changes that ``target`` has not applied yet (or, with ``context=``,
    ``artifact=`` or ``execution=``, one pipeline or one node's upstream lineage)."""
    selection = _selection(context, artifact, execution)
    with _ends(peer(store), peer(target, token=token, target=True)) as (source, sink):
        return _transfer(source, sink, selection, batch_size, progress)


def pull(
    store: Any,
    source: Any,
    *,
    context: int | str | None = None,
    artifact: int | None = None,
    execution: int | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    token: str | None = None,
) -> Report:
    """Bring into ``store`` the changes of ``source`` it has not applied yet (or a subset of
    them chosen in ``source``'s ids or context names)."""
    selection = _selection(context, artifact, execution)
    with _ends(peer(source, token=token), peer(store)) as (origin, sink):
        return _transfer(origin, sink, selection, batch_size, progress)


def sync(
    store: Any,
    other: Any,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    token: str | None = None,
) -> tuple[Report, Report]:
    """Push to ``other``, then pull from it: afterwards both hold the same graph (as long as
    nobody writes to either meanwhile). A server federates with a peer server this way."""
    with _ends(peer(store), peer(other, token=token)) as (first, second):
        sent = _transfer(first, second, None, batch_size, progress)
        received = _transfer(second, first, None, batch_size, progress)
        return sent, received


def dump(
    store: Any,
    path: str | os.PathLike[str],
    *,
    context: int | str | None = None,
    artifact: int | None = None,
    execution: int | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> Report:
    """Write ``store``'s whole metadata (or, with ``context=``, ``artifact=`` or
    ``execution=``, one pipeline or one node's upstream lineage) to the file ``path`` as JSON
    lines: one batch of the format in docs/sync.md per line, nodes known by global id, never
    by local id. :func:`load` brings it into any store; the file is replaced if it exists."""
    sink = BundlePeer(path, target=True)
    try:
        return push(
            store,
            sink,
            context=context,
            artifact=artifact,
            execution=execution,
            batch_size=batch_size,
            progress=progress,
        )
    finally:
        sink.close()


def load(
    store: Any,
    path: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
) -> Report:
    """Merge a file written by :func:`dump` (or ``push`` to a bundle) into ``store``, batch by
    batch, each in one transaction: into an empty store it gives the same graph as the one
    dumped; loading it again adds nothing."""
    return pull(store, BundlePeer(path), progress=progress)


@dataclass(frozen=True)
class Unpushed:
    """What ``store`` holds that a target has not applied yet: how many types, artifacts,
    executions and contexts changed (each counted once, however often it changed) since the
    feed position the target has applied (``applied``) up to ``position``, this store's last."""

    types: int
    artifacts: int
    executions: int
    contexts: int
    applied: int
    position: int

    @property
    def total(self) -> int:
        return self.types + self.artifacts + self.executions + self.contexts


def unpushed(store: Any, target: Any, *, token: str | None = None) -> Unpushed:
    """What a :func:`push` of ``store`` to ``target`` would send (without sending it): asks
    ``target`` which position of this store's feed it has applied, then counts the entities
    changed after it here. ``store`` is a store object or a store URL/path (not a server or a
    bundle: their feed is not read here)."""
    from mltrail.backends.sql.schema import TypeKind
    from mltrail.sync._tables import TYPE_OFFSET

    end = target.url if isinstance(target, Remote) else target
    absent = isinstance(end, (str, os.PathLike)) and _missing_store_file(os.fspath(end))
    with _ends(peer(store), *([] if absent else [peer(target, token=token)])) as ends:
        source = ends[0]
        if not isinstance(source, StorePeer):
            raise InvalidArgumentError(
                f"cannot count the unpushed changes of {source.label}: give a store opened here"
            )
        if absent:  # a store file a first push would create: it lacks everything
            applied, exclude = 0, None
        else:
            same_store(source, ends[1])
            applied, exclude = ends[1].applied(source.site()), ends[1].site() or None
        counts = source.count_changes(applied, exclude)
        position = source.store.database.run(_read.feed_end, write=False)
    kinds = {
        "artifacts": TypeKind.ARTIFACT,
        "executions": TypeKind.EXECUTION,
        "contexts": TypeKind.CONTEXT,
    }
    nodes = {name: counts.get(int(kind), 0) for name, kind in kinds.items()}
    types = sum(n for kind, n in counts.items() if kind >= TYPE_OFFSET)
    return Unpushed(types=types, applied=applied, position=int(position), **nodes)


def _missing_store_file(end: str) -> bool:
    """Whether ``end`` names a SQLite store file (a path or ``sqlite:///`` URL) that does not
    exist yet."""
    if end.startswith("sqlite:///"):
        end = end[len("sqlite:///") :].split("?", 1)[0]
    elif "://" in end or end.endswith(BundlePeer.SUFFIX) or end in ("", ":memory:"):
        return False
    return not os.path.exists(os.path.expanduser(end))


@contextmanager
def _ends(*ends: tuple[Peer, bool]) -> Iterator[tuple[Peer, ...]]:
    """The peers of a transfer; those opened for it are closed after it."""
    try:
        yield tuple(end for end, _ in ends)
    finally:
        for end, owned in reversed(ends):
            if owned:
                end.close()


def _selection(context: Any, artifact: Any, execution: Any) -> dict[str, Any] | None:
    chosen = {
        k: v
        for k, v in (("context", context), ("artifact", artifact), ("execution", execution))
        if v is not None
    }
    if len(chosen) > 1:
        raise InvalidArgumentError(f"choose one subset, got {sorted(chosen)}")
    return chosen or None


def _transfer(
    source: Peer,
    target: Peer,
    selection: dict[str, Any] | None,
    batch_size: int,
    progress: Progress | None,
) -> Report:
    from mltrail.errors import SyncConflictError

    if type(batch_size) is not int or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be a positive integer, got {batch_size!r}")
    same_store(source, target)
    report = Report(source.label, target.label)

    def send(data: bytes) -> None:
        try:
            applied = target.apply(data, source.label)
        except SyncConflictError as exc:
            report.conflicts = exc.conflicts
            exc.report = report  # type: ignore[attr-defined]
            raise
        report._add(applied, len(data))
        if progress is not None:
            progress(report)

    chosen = source.chosen() if selection is None and isinstance(source, BundlePeer) else None
    if selection is not None or chosen is not None:
        for data in chosen if chosen is not None else source.subset(selection or {}, batch_size):
            send(data)
        return report
    site = source.site()
    cursor = target.applied(site)
    exclude = target.site() or None

    def read(since: int) -> Outgoing | None:
        try:
            return source.changes(since, exclude, batch_size)
        except _EndOfBundle:
            return None

    # The next batch is read while the target applies this one: the two ends work at once.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mltrail-sync") as reader:
        outgoing = read(cursor)
        while outgoing is not None and outgoing.end != cursor:
            following = reader.submit(read, outgoing.end)
            try:
                send(outgoing.data)
            except BaseException:
                following.cancel()
                raise
            cursor = outgoing.end
            outgoing = following.result()
    report.position = cursor
    return report


__all__ = [
    "BATCH_SIZE",
    "Peer",
    "Report",
    "Unpushed",
    "dump",
    "load",
    "pull",
    "push",
    "sync",
    "unpushed",
]
