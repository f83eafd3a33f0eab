"""A transfer end that breaks off, as a dropped connection or a killed client would."""

from __future__ import annotations

from typing import Any

import mltrail as m
from mltrail.sync._peers import StorePeer


class Flaky(StorePeer):
    """A target that fails after applying ``allowed`` batches, as a dropped connection would."""

    def __init__(self, store: m.MetadataStore, allowed: int) -> None:
        super().__init__(store)
        self.allowed = allowed

    def apply(self, data: bytes, origin: str | None = None) -> Any:
        if self.allowed == 0:
            raise ConnectionError("the connection dropped")
        self.allowed -= 1
        return super().apply(data, origin)
