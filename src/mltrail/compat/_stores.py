"""What the importers share about the store they write to."""

from __future__ import annotations

import contextlib
from typing import Any


def calls_together(store: Any) -> contextlib.AbstractContextManager[Any]:
    """One transaction for the calls of a block (``store.transaction()``); a server store has
    none (each of its calls is one on the server), and there the calls stay one each."""
    from mltrail.store import MetadataStore

    if isinstance(store, MetadataStore):
        return store.transaction()
    return contextlib.nullcontext()
