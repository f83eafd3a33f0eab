"""``mltrail import``: history written by other tools (and by mltrail's own dumps) brought into
a store. Each subcommand is a shell over a library function; a second import of the same source
adds nothing."""

from __future__ import annotations

import click


@click.group("import")
def import_() -> None:
    """Bring metadata written elsewhere into the store."""
