"""Change capture: what a write transaction changed, written to the change feed at commit.

The store's write paths :func:`note` the entities they change (nodes by their kind, types by
10 + their kind) on the transaction's connection; :func:`flush`, called just before the commit,
writes one ``mlt_change`` row per entity and forgets the notes. Positions are handed out in
commit order on every backend (see :meth:`Dialect.feed_statements`), so a reader who read the
feed up to a position and reads again from there misses nothing a later commit added.

A transaction's rows get one stamp (:func:`stamp`): one tick of :mod:`~mltrail.backends.sql.clock`
taken when first asked for, forgotten with the notes.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text

from mltrail.backends.sql import clock
from mltrail.backends.sql.fast import Batch

if TYPE_CHECKING:
    from mltrail.backends.sql.dialects import Dialect

#: Feed kinds of types: 10 + the TypeKind of the type.
TYPE_KIND_OFFSET = 10
#: The order of a transaction's feed rows: types, contexts, artifacts, executions (what a row
#: refers to comes before it, as in the feed's seed), each by id.
_RANK = {11: 0, 12: 1, 13: 2, 3: 3, 1: 4, 2: 5}

_NOTES, _STAMP = "mltrail_feed_notes", "mltrail_feed_stamp"  # keys of the connection's info

FeedRow = tuple[int, int, "int | None"]  # (kind, entity id, source)


def note(conn: Connection, kind: int, ids: Iterable[int], source: int | None = None) -> None:
    """Remember that the entities ``ids`` of ``kind`` changed in this transaction, received from
    site ``source`` (None: made here). A change made here wins over a received one."""
    info = conn.info
    notes: dict[tuple[int, int], int | None] | None = info.get(_NOTES)
    if notes is None:
        notes = info[_NOTES] = {}
    if source is None:
        for entity_id in ids:
            notes[(kind, entity_id)] = None
    else:
        for entity_id in ids:
            notes.setdefault((kind, entity_id), source)


def types_noted(conn: Connection) -> bool:
    """Whether this transaction changed a type (its feed rows are not written yet)."""
    notes: dict[tuple[int, int], int | None] = conn.info.get(_NOTES) or {}
    return any(kind > TYPE_KIND_OFFSET for kind, _ in notes)


def stamp(conn: Connection) -> int:
    """The HLC stamp of this transaction's changes (one tick per transaction)."""
    info = conn.info
    value: int | None = info.get(_STAMP)
    if value is None:
        value = info[_STAMP] = clock.tick()
    return value


def pending(conn: Connection) -> list[FeedRow]:
    """The noted changes, in the order they are written to the feed."""
    notes: dict[tuple[int, int], int | None] = conn.info.get(_NOTES) or {}
    keys = sorted(notes, key=lambda key: (_RANK.get(key[0], 9), key[1]))
    return [(kind, entity_id, notes[(kind, entity_id)]) for kind, entity_id in keys]


def flush(conn: Connection, dialect: Dialect, batch: Batch | None = None) -> None:
    """Write the noted changes to the feed and forget them (and the transaction's stamp).

    With ``batch``, the feed's statements join the batch's (the caller runs it last thing
    before the commit: no request of their own); without, they run now.
    """
    info = conn.info
    info.pop(_STAMP, None)
    if not info.get(_NOTES):
        return
    rows = pending(conn)
    del info[_NOTES]
    if batch is not None:
        dialect.feed_batch(batch, rows)
    else:
        dialect.run_texts(conn, dialect.feed_statements(rows))


def discard(conn: Connection) -> None:
    """Forget the notes and the stamp of a transaction that rolled back."""
    info = conn.info
    info.pop(_NOTES, None)
    info.pop(_STAMP, None)


_UUIDS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def self_uuid(conn: Connection) -> str:
    """The UUID of this store (its ``mlt_site`` row 1), read once per database."""
    found = _UUIDS.get(conn.engine)
    if found is None:
        found = str(conn.execute(text("SELECT uuid FROM mlt_site WHERE id = 1")).scalar_one())
        _UUIDS[conn.engine] = found
    return found
