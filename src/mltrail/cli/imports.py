"""``mltrail import``: history written by other tools (and by mltrail's own dumps) brought into
a store. Each subcommand is a shell over a library function; a second import of the same source
adds nothing."""

from __future__ import annotations

import click

from mltrail.cli import _common
from mltrail.cli import sync as sync_commands


@click.group("import")
def import_() -> None:
    """Bring metadata written elsewhere into the store."""


@import_.command("dump")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_common.store_option
def dump(file: str, store: str | None) -> None:
    """Merge FILE, written by mltrail export dump (or mltrail push --to), into the store.

    Each batch is one transaction; into an empty store it gives the graph that was dumped, and
    nodes the store has already are merged by their identity (docs/sync.md)."""
    from mltrail import sync

    with sync_commands.progress_bar() as progress:
        report = sync.load(_common.store_location(store, create=True), file, progress=progress)
    click.echo(report.summary())
