"""``mltrail export``: the store's metadata in the formats other tools read. Shells over
:mod:`mltrail.compat.openlineage` (OpenLineage run events) and :func:`mltrail.sync.dump` (a
lossless JSON-lines dump); PROV-JSON of a lineage graph is ``mltrail lineage REF --format
prov``."""

from __future__ import annotations

import os

import click

from mltrail.cli import _common
from mltrail.cli import sync as sync_commands


@click.group()
def export() -> None:
    """Metadata in the formats of other tools."""


@export.command("openlineage")
@click.argument("refs", nargs=-1, metavar="[REF]...")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL|FILE",
    help="An OpenLineage server (http:// or https://: Marquez, an mltrail server), or a file "
    "the events are appended to, one JSON event per line.",
)
@click.option(
    "--endpoint",
    default="api/v1/lineage",
    show_default=True,
    help="The path of the lineage endpoint under URL (an mltrail project: p/NAME/api/v1/lineage).",
)
@click.option(
    "--token-env",
    default="OPENLINEAGE_API_KEY",
    show_default=True,
    metavar="VAR",
    help="The environment variable holding the server's API key (an mltrail writer token); "
    "none is sent when it is not set.",
)
@click.option(
    "--namespace",
    default="mltrail",
    show_default=True,
    help="The job namespace of executions not recorded from OpenLineage.",
)
@_common.store_option
def openlineage(
    refs: tuple[str, ...],
    target: str,
    endpoint: str,
    token_env: str,
    namespace: str,
    store: str | None,
) -> None:
    """Send executions as OpenLineage run events (needs mltrail[openlineage]).

    REF is an execution (an id, e:ID, its external id or name) or a context (c:ID or its name:
    every execution in it); without REF, every execution of the store."""
    from mltrail.compat.openlineage import emit
    from mltrail.errors import InvalidArgumentError

    with _common.opened_store(store) as opened:
        ids: list[int] = []
        for ref in refs:
            found = _common.resolve(
                opened, ref, default="execution", kinds=("execution", "context")
            )
            if found.kind == "context":
                ids += [
                    int(e.id or 0)
                    for e in opened.get_executions_by_context(int(found.node.id or 0))
                ]
            else:
                ids.append(int(found.node.id or 0))
        if not refs:
            ids = [int(e.id or 0) for e in opened.get_executions()]
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise InvalidArgumentError("no executions to send: the store or the context has none")
        web = target.startswith(("http://", "https://"))
        token = os.environ.get(token_env, "").strip() or None
        sent = emit(
            opened,
            ids,
            url=target if web else None,
            file=None if web else target,
            token=token if web else None,
            endpoint=endpoint,
            namespace=namespace,
        )
    click.echo(f"sent {sent} events of {len(ids)} executions to {target}")


@export.command("dump")
@click.argument("file", type=click.Path(dir_okay=False))
@sync_commands.subset_options("Dump")
@sync_commands.batch_option
@_common.store_option
def dump(
    file: str,
    context: str | None,
    artifact: int | None,
    execution: int | None,
    batch_size: int | None,
    store: str | None,
) -> None:
    """Write the store's metadata to FILE as JSON lines (mltrail import dump reads it back).

    Every type, node, property, removal and edge with its times, nodes known by global id, one
    batch per line; --context, --artifact or --execution write one part of the graph. FILE is
    replaced if it exists."""
    from mltrail import sync

    with _common.opened_store(store) as opened, sync_commands.progress_bar() as progress:
        report = sync.dump(
            opened,
            file,
            progress=progress,
            batch_size=batch_size or sync.BATCH_SIZE,
            **sync_commands.subset(context, artifact, execution),
        )
    click.echo(f"wrote {report.records:,} record(s) in {report.batches} batch(es) to {file}")
