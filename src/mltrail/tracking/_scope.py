"""What a run needs from the tracker and the stage that started it.

The tracker builds a :class:`RunScope` for each stage and hands it to every run of the stage, so
that runs depend on these few things, not on the tracker (which creates runs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mltrail.model import Context
from mltrail.store import MetadataStore
from mltrail.tracking._data import DataSide
from mltrail.tracking._writer import ArtifactWriter
from mltrail.tracking.hashing import Hasher


@dataclass(frozen=True)
class RunScope:
    store: MetadataStore
    hasher: Hasher
    writer: ArtifactWriter
    #: The cache logged bytes go into, and the remotes they are fetched from.
    data: DataSide
    #: The project root recorded paths are relative to.
    root: Path
    #: How a path is recorded: relative to the project root when inside it.
    display_path: Callable[[Path], str]
    #: The stage context's name, ``"<pipeline>/<stage>"``.
    stage_name: str
    #: The pipeline and the stage contexts (by type and name) every artifact is attributed to.
    contexts: Sequence[Context]
