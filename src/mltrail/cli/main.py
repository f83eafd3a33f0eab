"""The ``mltrail`` command group and its error handling."""

from __future__ import annotations

import sys
from typing import Any

import click

from mltrail.cli import admin, data
from mltrail.cli import sync as sync_commands
from mltrail.errors import MltrailError


class Group(click.Group):
    """Commands whose errors are one line on stderr (exit 1), unless ``--debug``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MltrailError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(1)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(package_name="mltrail")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Record the metadata of machine-learning work and ask it questions."""
    ctx.obj = {"debug": debug}


@main.command()
@click.argument("store", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="The port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1), help="Processes.")
@admin.home_option
@click.option(
    "--max-body-size",
    type=click.IntRange(1),
    help="The largest request body accepted, in bytes (default 32 MiB).",
)
@click.option("--auth", is_flag=True, help="Require a bearer token (mltrail token create).")
@admin.registry_option
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="A web origin whose pages may call the API (repeatable; none by default).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Serve an address other than loopback without authentication.",
)
def serve(
    store: str | None,
    host: str,
    port: int,
    workers: int,
    home: str | None,
    max_body_size: int | None,
    auth: bool,
    registry: str | None,
    cors_origins: tuple[str, ...],
    insecure: bool,
) -> None:
    """Serve STORE (default: the embedded SQLite file) and its projects over HTTP."""
    from mltrail.server.serve import serve as run

    run(
        store,
        host=host,
        port=port,
        workers=workers,
        home=home,
        max_body_bytes=max_body_size,
        auth=auth,
        registry=registry,
        cors_origins=cors_origins,
        insecure=insecure,
    )


main.add_command(admin.token)
main.add_command(admin.project)
main.add_command(sync_commands.remote)
main.add_command(sync_commands.push)
main.add_command(sync_commands.pull)
main.add_command(sync_commands.sync_command)
main.add_command(data.artifact)
main.add_command(data.gc)
