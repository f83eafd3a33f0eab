"""The progress bar of transfers, on stderr (on a terminal only): one for metadata batches
(:func:`mltrail.cli.sync.progress_bar`), one for artifact bytes (:func:`transfer_bar`), drawn
by the same :func:`bar`. rich is imported when a bar is made, not with the command line."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


@contextlib.contextmanager
def bar(console: Console | None, detail: str) -> Iterator[Progress | None]:
    """A rich ``Progress`` drawing tasks with a label, a bar, ``detail`` (a format of the
    task's fields), bytes, speed and time; None when ``console`` (default: stderr) is not a
    terminal. The bar is removed when the block ends."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(detail),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        yield progress


class TransferProgress:
    """The ``progress`` of :func:`mltrail.data.transfer` (``start``, then ``advance`` from any
    thread) drawn as one task of a bar; does nothing without a bar."""

    def __init__(self, progress: Progress | None, label: str) -> None:
        self._progress = progress
        self._label = label
        self._task: Any = None
        self._objects = 0
        self._lock = threading.Lock()

    def start(self, total_objects: int, total_bytes: int) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._task = self._progress.add_task(
                self._label, total=total_bytes, objects=0, total_objects=total_objects
            )

    def advance(self, objects: int, nbytes: int) -> None:
        if self._progress is None or self._task is None:
            return
        with self._lock:
            self._objects += objects
            self._progress.update(self._task, advance=nbytes, objects=self._objects)


@contextlib.contextmanager
def transfer_bar(label: str, console: Console | None = None) -> Iterator[TransferProgress]:
    """A progress for artifact transfers: objects and bytes moved so far, labelled ``label``."""
    with bar(console, "{task.fields[objects]}/{task.fields[total_objects]} object(s)") as drawn:
        yield TransferProgress(drawn, label)
