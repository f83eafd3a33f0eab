"""What every command of the ``mltrail`` command line shares: which store it talks to, how a node
is named on the command line, and how answers are printed (a rich table, JSON or CSV).

The store is ``--store`` on the command, else ``--store`` before the command (``mltrail --store
URL ls ...``), else ``$MLTRAIL_STORE``, else the project's ``.mltrail/mltrail.db``. It may be a
file path, a database URL or an mltrail server URL (``http://host:port[/p/project]``, with
``$MLTRAIL_TOKEN`` as its bearer token). Commands that only read refuse a store file that does
not exist instead of creating an empty one.

Only click is imported here; rich, SQLAlchemy and the store come when a command needs them.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mltrail.errors import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem
    from rich.console import Console

    from mltrail.model import Artifact, Context, Execution
    from mltrail.store import MetadataStore

STORE_HELP = (
    "The store: a file path, a database URL or a server URL "
    "(default: $MLTRAIL_STORE, else .mltrail/mltrail.db of the project)."
)

store_option = click.option("--store", metavar="URL", help=STORE_HELP)


def complete_remotes(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion: the names of the project's remotes (none when the file is unreadable)."""
    from click.shell_completion import CompletionItem

    from mltrail.errors import MltrailError
    from mltrail.sync import remotes

    try:
        known = remotes.remotes()
    except (MltrailError, OSError):
        return []
    return [
        CompletionItem(name, help=f"{r.kind}: {r.url or r.data}")
        for name, r in sorted(known.items())
        if name.startswith(incomplete)
    ]


def output_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--json`` and ``--csv``: the command gets ``output``: ``"table"``, ``"json"``, ``"csv"``."""
    command = click.option(
        "--csv", "output", flag_value="csv", help="Print CSV (one row per line, a header first)."
    )(command)
    return click.option(
        "--json", "output", flag_value="json", help="Print JSON (the whole records)."
    )(click.option("--table", "output", flag_value="table", default=True, hidden=True)(command))


# -------------------------------------------------------------------------------- the store


def store_location(given: str | None, *, create: bool = False) -> str:
    """The store a command talks to (see the module's docstring).

    ``create``: the project's ``.mltrail`` directory is made when the default store is used.
    """
    if given:
        return given
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if isinstance(ctx.obj, dict) and ctx.obj.get("store"):
            return str(ctx.obj["store"])
        ctx = ctx.parent
    configured = os.environ.get("MLTRAIL_STORE", "").strip()
    if configured:
        return configured
    from mltrail import _project

    root = _project.project_root()
    if create:
        return _project.default_store_location(root)
    return str(root / _project.DIRECTORY / _project.STORE_FILE)


def missing_file(location: str) -> Path | None:
    """The SQLite file ``location`` names when it does not exist, else None."""
    if "://" in location:
        if not location.lower().startswith("sqlite:///"):
            return None
        path = location[len("sqlite:///") :].split("?", 1)[0]
    elif location in ("", ":memory:"):
        return None
    else:
        path = location
    resolved = Path(path).expanduser()
    return None if resolved.exists() else resolved


@contextlib.contextmanager
def opened_store(
    given: str | None, *, migrate: bool = False, create: bool = False
) -> Iterator[MetadataStore]:
    """The store of ``given`` (see :func:`store_location`), open for the block, closed after it.

    A store file that does not exist is an error (a typo must not create an empty store),
    unless ``create`` (the commands that bring metadata in: an empty store is where they
    start). An older schema is not migrated unless ``migrate``: the error says to run
    ``mltrail migrate``.
    """
    location = store_location(given, create=create)
    missing = None if create else missing_file(location)
    if missing is not None:
        raise NotFoundError(
            f"no mltrail store at {missing}: run `mltrail init` to create one here, or give "
            "--store (or set MLTRAIL_STORE) to use another"
        )
    with connected(location, migrate=migrate) as store:
        yield store


@contextlib.contextmanager
def connected(location: str, *, migrate: bool) -> Iterator[MetadataStore]:
    """``mltrail.connect(location)`` for the block; an older schema's error names the command
    that upgrades it."""
    import mltrail
    from mltrail.errors import SchemaVersionError

    try:
        store = mltrail.connect(location, migrate=migrate)
    except SchemaVersionError as exc:
        if exc.database_version >= exc.library_version:
            raise
        raise SchemaVersionError(
            f"the store at {location} has schema version {exc.database_version}, older than "
            f"this mltrail's {exc.library_version}: back it up, then run `mltrail migrate` "
            "(`mltrail migrate --dry-run` shows what it does)",
            database_version=exc.database_version,
            library_version=exc.library_version,
        ) from None
    try:
        yield store
    finally:
        store.close()


# -------------------------------------------------------------------------------- node references

KINDS = ("artifact", "execution", "context")
PREFIXES = {"a": "artifact", "e": "execution", "c": "context", **{k: k for k in KINDS}}

Node = Any  # Artifact | Execution | Context


@dataclass(frozen=True)
class Found:
    """A node named on the command line: its kind (``artifact``...) and the node itself."""

    kind: str
    node: Artifact | Execution | Context

    @property
    def label(self) -> str:
        return f"{self.kind} {self.node.id}"


def _getters(store: MetadataStore, kind: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    by_id = getattr(store, f"get_{kind}s_by_id")
    listed = getattr(store, f"get_{kind}s")
    return by_id, listed


def quoted(text: str) -> str:
    """``text`` as a string literal of the filter language."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def resolve(
    store: MetadataStore, reference: str, *, default: str = "artifact", kinds: Sequence[str] = KINDS
) -> Found:
    """The node ``reference`` names: ``[KIND:]ID``, ``[KIND:]EXTERNAL_ID`` or ``[KIND:]NAME``.

    KIND is ``artifact``/``a``, ``execution``/``e`` or ``context``/``c``; a bare id is of kind
    ``default``; a bare external id or name is looked up among ``kinds`` and must name one node.
    """
    text = reference.strip()
    kind, _, rest = text.partition(":")
    if rest and kind.lower() in PREFIXES:
        wanted = [PREFIXES[kind.lower()]]
        text = rest
        if wanted[0] not in kinds:
            article = "an" if wanted[0][0] in "aeiou" else "a"
            raise InvalidArgumentError(
                f"{reference!r} names {article} {wanted[0]}; this command takes "
                + " or ".join(f"{k}s" for k in kinds)
            )
    else:
        wanted = [default] if text.isdigit() else list(kinds)
    if not text:
        raise InvalidArgumentError(f"{reference!r} names nothing: give an id, external id or name")
    found: list[Found] = []
    for each in wanted:
        by_id, listed = _getters(store, each)
        if text.isdigit():
            found += [Found(each, node) for node in by_id([int(text)])]
        else:
            query = f"external_id = {quoted(text)} OR name = {quoted(text)}"
            found += [Found(each, node) for node in listed(filter_query=query)]
    if not found:
        where = " or ".join(f"{k}s" for k in wanted)
        raise NotFoundError(f"no {where[:-1] if len(wanted) == 1 else where} named {text!r}")
    if len(found) > 1:
        choices = ", ".join(f"{f.kind[0]}:{f.node.id} ({f.node.type})" for f in found[:10])
        raise InvalidArgumentError(
            f"{reference!r} names {len(found)} nodes: {choices}; give one as KIND:ID"
        )
    return found[0]


# -------------------------------------------------------------------------------- printing


def console(*, stderr: bool = False) -> Console:
    """A rich console for tables and trees (plain text when not on a terminal)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def when(ms: int | None) -> str:
    """Milliseconds since the epoch as local time, to the second."""
    if not ms:
        return ""
    moment = datetime.datetime.fromtimestamp(ms / 1000).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def cell(value: Any) -> str:
    """A property value as one table cell (:func:`mltrail._plain.shown`)."""
    from mltrail._plain import shown

    return shown(value)


def print_json(document: Any) -> None:
    """``document`` as indented JSON on stdout (model objects via :func:`mltrail.to_dict`)."""
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=_plain))


def _plain(value: Any) -> Any:
    from mltrail.model import to_dict

    try:
        return to_dict(value)
    except TypeError:
        return str(value)


def print_rows(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    output: str,
    *,
    records: Sequence[Any] | None = None,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """A listing: a rich table that fits the terminal, CSV of the cells, or JSON of ``records``
    (the whole objects; the cells as objects keyed by column when ``records`` is None)."""
    if output == "json":
        if records is None:
            records = [dict(zip(columns, row, strict=True)) for row in rows]
        print_json(list(records))
        return
    if output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(v) for v in row] for row in rows)
        return
    if not rows:
        click.echo(empty, err=True)
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold", expand=False)
    for index, name in enumerate(columns):
        table.add_column(name, overflow="fold" if index else "ellipsis", no_wrap=index == 0)
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    console().print(table)


def mapping_rows(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``values`` as (key, cell) pairs in key order."""
    return [(key, cell(values[key])) for key in sorted(values)]
