"""``mltrail token`` and ``mltrail project``: a server's tokens and projects, managed on the
machine that holds its home (no running server needed)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from mltrail.server.tokens import Registry

home_option = click.option(
    "--home",
    type=click.Path(file_okay=False),
    help="The server's home directory (default: .mltrail of the working tree).",
)
registry_option = click.option(
    "--registry",
    metavar="URL",
    help="The token registry's database (default: server.db in the home).",
)


def _settings(home: str | None, registry: str | None) -> tuple[Path, str]:
    from mltrail.server.settings import Settings

    settings = Settings(home=Path(home) if home else None, registry=registry)
    resolved = settings.resolved_home(None)
    return resolved, settings.registry_url(resolved)


@contextlib.contextmanager
def _registry(home: str | None, registry: str | None) -> Iterator[Registry]:
    """The token registry of the home (or at ``registry``), closed afterwards."""
    from mltrail.server.tokens import Registry

    opened = Registry(_settings(home, registry)[1])
    try:
        yield opened
    finally:
        opened.close()


@click.group()
def token() -> None:
    """Bearer tokens of a server: create, list, revoke."""


@token.command("create")
@click.option("--project", required=True, help="The project ('*': every project).")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["reader", "writer", "admin"]),
    help="What it may do.",
)
@click.option("--name", default="", help="Who or what the token is for.")
@home_option
@registry_option
def token_create(
    project: str, role: str, name: str, home: str | None, registry: str | None
) -> None:
    """Create a token and print its secret (shown only this once)."""
    with _registry(home, registry) as found:
        secret, made = found.create(project, role, name)
    click.echo(secret)
    click.echo(f"token {made.id}: {made.role} of {made.project}", err=True)


@token.command("list")
@click.option("--project", help="Only this project's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@home_option
@registry_option
def token_list(project: str | None, as_json: bool, home: str | None, registry: str | None) -> None:
    """List tokens (never their secrets)."""
    with _registry(home, registry) as found:
        tokens = found.list(project)
    if as_json:
        click.echo(json.dumps([t.__dict__ for t in tokens], indent=2))
        return
    for t in tokens:
        state = "revoked" if t.revoked_ms is not None else "live"
        click.echo(f"{t.id}\t{t.project}\t{t.role}\t{state}\t{t.name}")


@token.command("revoke")
@click.argument("token_id", type=int)
@home_option
@registry_option
def token_revoke(token_id: int, home: str | None, registry: str | None) -> None:
    """Revoke a token: servers refuse it from the next request on."""
    with _registry(home, registry) as found:
        found.revoke(token_id)
    click.echo(f"token {token_id} revoked")


@click.group()
def project() -> None:
    """Projects of a server: each an isolated store."""


@project.command("create")
@click.argument("name")
@home_option
def project_create(name: str, home: str | None) -> None:
    """Create project NAME (an empty store in the home)."""
    from mltrail.server._projects import Projects

    Projects(None, _settings(home, None)[0]).create(name)
    click.echo(f"project {name} created")


@project.command("list")
@home_option
def project_list(home: str | None) -> None:
    """List the projects in the home."""
    from mltrail.server._projects import Projects

    for name in Projects(None, _settings(home, None)[0]).names():
        click.echo(name)
