"""The two ends of a transfer: a store this process opens, or a bundle file.

Every end offers the same few operations (:class:`Peer`): its site id, the feed position of
another site it has applied, its changes after a position, a chosen subset, and applying a
batch. Batches travel between ends as bytes (:mod:`mltrail.sync._check`), the same bytes an
HTTP transfer or a bundle carries, so every transfer checks what it applies.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.sync import _apply, _check, _read
from mltrail.sync._tables import SITE, self_uuid

#: HTTP headers that carry a batch's feed range next to its bytes.
FROM_HEADER, TO_HEADER = "x-mltrail-feed-from", "x-mltrail-feed-to"


@dataclass(frozen=True)
class Outgoing:
    """A batch of a feed range as bytes, with the range (read without decoding the bytes)."""

    data: bytes
    start: int
    end: int


class Peer(abc.ABC):
    """One end of a transfer."""

    label: str

    @abc.abstractmethod
    def site(self) -> str:
        """This end's site id."""

    @abc.abstractmethod
    def applied(self, site: str) -> int:
        """The position of ``site``'s feed that this end has applied (0: nothing yet)."""

    @abc.abstractmethod
    def changes(self, since: int, exclude: str | None, limit: int) -> Outgoing:
        """A batch of this end's changes after feed position ``since``."""

    @abc.abstractmethod
    def subset(self, selection: dict[str, Any], limit: int) -> Iterator[bytes]:
        """Batches of the chosen entities (see :func:`mltrail.sync.push`), one at a time."""

    @abc.abstractmethod
    def apply(self, data: bytes, origin: str | None = None) -> _apply.Applied:
        """Merge a batch from another end (``origin``: where it came from, for people)."""

    def close(self) -> None:  # noqa: B027 (most ends hold nothing)
        """Release what this end holds."""


class StorePeer(Peer):
    """A store opened by this process (any SQL backend)."""

    def __init__(self, store: Any, *, owned: bool = False) -> None:
        self.store = store
        self.label = str(getattr(store.database, "description", store))
        self._owned = owned
        self._site: str | None = None

    @property
    def _db(self) -> Any:
        return self.store.database

    def site(self) -> str:
        if self._site is None:
            self._site = self._db.run(self_uuid, write=False)
        return self._site

    def applied(self, site: str) -> int:
        from sqlalchemy import select

        def run(conn: Any) -> int:
            return int(
                conn.execute(select(SITE.c.applied_seq).where(SITE.c.uuid == site)).scalar() or 0
            )

        return int(self._db.run(run, write=False))

    def count_changes(self, since: int, exclude: str | None) -> dict[int, int]:
        """Feed kind -> entities changed after ``since`` (not those received from ``exclude``)."""
        return dict(
            self._db.run(lambda conn: _read.count_changes(conn, since, exclude), write=False)
        )

    def changes(self, since: int, exclude: str | None, limit: int) -> Outgoing:
        batch = self._db.run(lambda conn: _read.read_feed(conn, since, limit, exclude), write=False)
        return Outgoing(_check.encode(batch), batch["from"], batch["to"])

    def subset(self, selection: dict[str, Any], limit: int) -> Iterator[bytes]:
        wanted = _select(self.store, selection)  # checked before the first batch is asked for
        return self._subset_batches(wanted, limit)

    def _subset_batches(self, wanted: _read.Wanted, limit: int) -> Iterator[bytes]:
        for part in _split(wanted, limit):
            batch = self._db.run(lambda conn, p=part: _read.read_subset(conn, p), write=False)
            yield _check.encode(batch)

    def apply(self, data: bytes, origin: str | None = None) -> _apply.Applied:
        return self._merge(_check.decode(data), origin)  # decoding checks it

    def merge(self, batch: dict[str, Any], origin: str | None = None) -> _apply.Applied:
        """Check a batch built in this process (an importer's) and merge it in one
        transaction, as :meth:`apply` does with the bytes of another end."""
        return self._merge(_check.check(batch), origin)

    def _merge(self, batch: dict[str, Any], origin: str | None) -> _apply.Applied:
        db = self._db
        return db.run(
            lambda conn: _apply.apply(conn, db.dialect, batch, origin),
            write=True,
            serial=True,
        )

    def close(self) -> None:
        if self._owned:
            self.store.close()


class BundlePeer(Peer):
    """A bundle file (``*.mltrail``): batches one per line, carried where no network reaches.

    As a target it takes every batch pushed to it (a bundle knows no positions: it holds the
    changes since the position the push starts from, 0 unless told); as a source it gives its
    batches in order, skipping those the receiver has applied already.
    """

    SUFFIX = ".mltrail"

    def __init__(
        self, path: str | os.PathLike[str], *, target: bool = False, since: int = 0
    ) -> None:
        self.path = Path(path)
        self.label = str(self.path)
        self._target = target
        self._since = since
        self._out: Any = None
        self._lines: list[bytes] | None = None

    def _read(self) -> list[bytes]:
        if self._lines is None:
            if not self.path.is_file():
                raise NotFoundError(f"no bundle file at {self.path}; check the path")
            self._lines = [line for line in self.path.read_bytes().splitlines() if line.strip()]
        return self._lines

    def site(self) -> str:
        if self._target:
            return ""  # a bundle being written belongs to no site: whatever it held is replaced
        lines = self._read()
        if not lines:
            return ""  # an empty bundle belongs to no site
        return str(_check.decode(lines[0])["site"])

    def applied(self, site: str) -> int:
        return self._since

    def chosen(self) -> list[bytes] | None:
        """The batches of a bundle of chosen entities (a pipeline, a node's lineage: batches
        with no feed range), to apply in order; None for a bundle of a feed range."""
        lines = self._read() if not self._target else []
        if not lines or _check.decode(lines[0])["from"] is not None:
            return None
        return lines

    def changes(self, since: int, exclude: str | None, limit: int) -> Outgoing:
        for number, line in enumerate(self._read(), 1):
            batch = _check.decode(line)
            if batch["to"] is None:
                raise InvalidArgumentError(
                    f"{self.path}, line {number}: a batch of chosen entities in a bundle of a "
                    "feed range; the bundle was put together from two pushes: push it again"
                )
            if batch["to"] > since:
                return Outgoing(line, batch["from"], batch["to"])
        raise _EndOfBundle()

    def subset(self, selection: dict[str, Any], limit: int) -> Iterator[bytes]:
        raise InvalidArgumentError(
            "a bundle holds a feed range, not a chosen subset: import the whole bundle"
        )

    def apply(self, data: bytes, origin: str | None = None) -> _apply.Applied:
        if self._out is None:
            self._open()
        self._out.write(data + b"\n")
        batch = _check.decode(data)
        return _apply.Applied(records=len(batch["nodes"]))

    def close(self) -> None:
        if self._target and self._out is None:
            self._open()  # nothing was sent: the bundle is empty, and it is there
        if self._out is not None:
            self._out.close()
            self._out = None

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.path.open("wb")


class _EndOfBundle(Exception):
    """A bundle has no batch after the position asked for."""


def _select(store: Any, selection: dict[str, Any]) -> _read.Wanted:
    """The entities of a subset: a pipeline (a context and its descendants, with their members)
    or the lineage closure (upstream) of an artifact or execution."""
    from mltrail.backends.sql.schema import TypeKind

    a, e, c = int(TypeKind.ARTIFACT), int(TypeKind.EXECUTION), int(TypeKind.CONTEXT)
    if "context" in selection:
        from mltrail.store._questions import context_dag_ids

        context_id = _context_id(store, selection["context"])
        contexts, artifacts, executions = store.database.run(
            lambda conn: context_dag_ids(conn, context_id, True), write=False
        )
        return {c: sorted(contexts), a: sorted(artifacts), e: sorted(executions)}
    if "artifact" in selection or "execution" in selection:
        artifact_ids = [selection["artifact"]] if "artifact" in selection else []
        execution_ids = [selection["execution"]] if "execution" in selection else []
        for node_id in artifact_ids + execution_ids:
            if type(node_id) is not int:
                raise InvalidArgumentError(
                    f"an artifact or execution is chosen by its id, got {node_id!r}"
                )
        found = (
            store.get_artifacts_by_id(artifact_ids)
            if artifact_ids
            else store.get_executions_by_id(execution_ids)
        )
        if not found:
            label = "artifact" if artifact_ids else "execution"
            raise NotFoundError(f"no {label} with id {(artifact_ids + execution_ids)[0]} to send")
        graph = store.lineage(
            artifact_ids=artifact_ids, execution_ids=execution_ids, direction="upstream"
        )
        return {
            a: sorted({n.id for n in graph.artifacts} | set(artifact_ids)),
            e: sorted({n.id for n in graph.executions} | set(execution_ids)),
        }
    raise InvalidArgumentError(
        f"choose a subset with context=, artifact= or execution=, got {sorted(selection)}"
    )


def _context_id(store: Any, context: Any) -> int:
    if type(context) is int:
        if not store.get_contexts_by_id([context]):
            raise NotFoundError(f"no context with id {context} to send")
        return context
    if isinstance(context, str):
        from sqlalchemy import select

        from mltrail.sync._tables import TYPE, spec

        table = spec(3).table
        found = store.database.run(
            lambda conn: conn.execute(
                select(table.c.id, TYPE.c.name)
                .join(TYPE, TYPE.c.id == table.c.type_id)
                .where(table.c.name == context)
            ).all(),
            write=False,
        )
        if not found:
            raise NotFoundError(f"no context named {context!r} to send")
        if len(found) > 1:
            types = sorted(type_name for _, type_name in found)
            raise InvalidArgumentError(
                f"{len(found)} contexts are named {context!r} (types {types}); give the id"
            )
        return int(found[0][0])
    raise InvalidArgumentError(f"a context is chosen by its id or name, got {context!r}")


def _split(wanted: _read.Wanted, limit: int) -> list[_read.Wanted]:
    """Parts of at most ``limit`` entities, contexts first (their members name them)."""
    flat = [(kind, i) for kind in sorted(wanted, key=lambda k: (k != 3, k)) for i in wanted[kind]]
    parts = []
    for start in range(0, len(flat), max(1, limit)):
        part: _read.Wanted = {}
        for kind, node_id in flat[start : start + limit]:
            part.setdefault(kind, []).append(node_id)
        parts.append(part)
    return parts


def same_store(first: Peer, second: Peer) -> None:
    if first.site() and first.site() == second.site():
        raise FailedPreconditionError(
            f"{first.label} and {second.label} are the same store (site {first.site()}): there is "
            "nothing to transfer (a copied store file keeps its site id: see docs/sync.md)"
        )
