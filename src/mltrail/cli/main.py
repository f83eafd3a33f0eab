"""The ``mltrail`` command group and its error handling."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from mltrail.cli import _common, admin, data, exports, imports, listing, questions, store
from mltrail.cli import metrics as metrics_command
from mltrail.cli import sync as sync_commands
from mltrail.errors import MltrailError


class Group(click.Group):
    """Commands whose errors are one line on stderr (exit 1), unless ``--debug``.

    Exit codes: 0 done, 1 an error (what was wrong and what to do, on one line; a filter query's
    syntax error adds the query with a caret under the fault), 2 a usage error (click's).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # the reader went away (`mltrail ls ... | head`): not an error
            _quiet_exit()
        except MltrailError as exc:
            _fail(ctx, f"{type(exc).__name__}: {exc}")
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            _fail(ctx, f"{exc.strerror or exc}{where}")
        except Exception as exc:  # a bug: say so on one line, the traceback is one flag away
            _fail(ctx, f"internal error ({type(exc).__name__}: {exc}); --debug shows where")


def _quiet_exit() -> None:
    """Stop without a word once stdout's reader has gone: Python would otherwise complain
    again when it flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(0)


def _fail(ctx: click.Context, message: str) -> None:
    if ctx.obj and ctx.obj.get("debug"):
        raise
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.option("--store", metavar="URL", help=_common.STORE_HELP)
@click.version_option(package_name="mltrail")
@click.pass_context
def main(ctx: click.Context, debug: bool, store: str | None) -> None:
    """Record the metadata of machine-learning work and ask it questions."""
    ctx.obj = {"debug": debug, "store": store}


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


main.add_command(store.init)
main.add_command(store.status)
main.add_command(store.migrate)
main.add_command(admin.token)
main.add_command(admin.project)
main.add_command(sync_commands.remote)
main.add_command(sync_commands.push)
main.add_command(sync_commands.pull)
main.add_command(sync_commands.sync_command)
main.add_command(data.artifact)
main.add_command(data.gc)
main.add_command(listing.ls)
main.add_command(listing.show)
main.add_command(listing.runs)
main.add_command(questions.lineage)
main.add_command(questions.compare)
main.add_command(questions.cached)
main.add_command(questions.why_rerun)
main.add_command(metrics_command.metrics)
main.add_command(exports.export)
main.add_command(imports.import_)


@main.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    bash:  eval "$(mltrail completion bash)"   (in ~/.bashrc)
    zsh:   eval "$(mltrail completion zsh)"    (in ~/.zshrc)
    fish:  mltrail completion fish > ~/.config/fish/completions/mltrail.fish
    """
    from click.shell_completion import get_completion_class

    complete = get_completion_class(shell)
    assert complete is not None  # the choices are the shells click knows
    click.echo(complete(main, {}, "mltrail", "_MLTRAIL_COMPLETE").source())
