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

    with _common.opened_store(store, create=True) as opened, sync_commands.progress_bar() as bar:
        report = sync.load(opened, file, progress=bar)
    click.echo(report.summary())


@import_.command("cmf")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_common.store_option
def cmf(file: str, store: str | None) -> None:
    """Bring FILE, CMF's JSON export (cmf metadata export), into the store.

    Pipelines, stages, executions (known by their Execution_uuid) and artifacts (by their
    hash) become what mltrail's tracking records (docs/cmf-migration.md); each pipeline is
    one transaction, and importing the same file again adds nothing."""
    from mltrail.compat.cmf import import_json

    with _common.opened_store(store, create=True) as opened:
        report = import_json(opened, file)
    click.echo(report.summary())


@import_.command("mlmd")
@click.argument("url", metavar="PATH|URL")
@click.option(
    "--site",
    metavar="UUID",
    help="The site id the database's nodes are known by (default: one derived from where the "
    "database is); give the earlier one to import a moved copy as the same source.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="MLMD nodes per transaction.",
)
@_common.store_option
def mlmd(url: str, site: str | None, batch_size: int, store: str | None) -> None:
    """Merge an ML Metadata database (TFX, Kubeflow Pipelines, CMF) into the store.

    PATH|URL is a SQLite file (a path or sqlite:///path) or mysql://user:password@host:port/db.
    Every type, node, property, event and context link arrives with its times; importing again
    adds only what is new or changed (docs/mlmd-import.md)."""
    from mltrail.compat.mlmd import import_mlmd

    with _common.opened_store(store, create=True) as opened:
        report = import_mlmd(opened, url, site=site, batch_size=batch_size)
    click.echo(report.summary())
