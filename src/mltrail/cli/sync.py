"""``mltrail remote``, ``mltrail push``, ``mltrail pull`` and ``mltrail sync``: shells over
:mod:`mltrail.sync` and :mod:`mltrail.sync.remotes`.

The other end (REMOTE) is a configured remote's name, a server URL, a store URL or path, or a
bundle file (``*.mltrail``); without one, the only configured remote. This side is ``--store``
(default: ``$MLTRAIL_STORE``, else the working tree's ``.mltrail/mltrail.db``). A progress bar
shows on stderr while batches move (on a terminal); one summary line per direction goes to
stdout at the end.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from mltrail.cli import _progress
from mltrail.cli._common import complete_remotes, store_location, store_option

if TYPE_CHECKING:
    from rich.console import Console

    from mltrail.sync import Report
    from mltrail.sync.remotes import Remote

batch_option = click.option(
    "--batch-size",
    type=click.IntRange(1),
    metavar="N",
    help="Changes (or chosen entities) per batch (default 500).",
)


def subset_options(verb: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(
            [
                click.option(
                    "--context",
                    metavar="NAME|ID",
                    help=f"{verb} one pipeline: the context, its descendants and their members "
                    "(digits are read as an id).",
                ),
                click.option(
                    "--artifact",
                    type=int,
                    metavar="ID",
                    help=f"{verb} the upstream lineage of one artifact.",
                ),
                click.option(
                    "--execution",
                    type=int,
                    metavar="ID",
                    help=f"{verb} the upstream lineage of one execution.",
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


# -------------------------------------------------------------------------------- remotes


@click.group()
def remote() -> None:
    """The remotes of this working tree (kept in .mltrail/config.toml)."""


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option(
    "--data",
    metavar="URL",
    help="A data end for artifact bytes (a directory, s3://bucket/prefix, ssh://user@host/path).",
)
@click.option(
    "--kind",
    type=click.Choice(["metadata", "data", "both"]),
    help="What URL is (default: inferred; s3, ssh, file URLs and directories are data ends).",
)
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the data end's filesystem (endpoint_url=..., profile=..., "
    "client_keys=[...]); repeatable. No credentials.",
)
@click.option(
    "--token-env",
    metavar="VARIABLE",
    help="The environment variable holding the remote's token (default: $MLTRAIL_TOKEN).",
)
def remote_add(
    name: str,
    url: str,
    data: str | None,
    kind: str | None,
    options: tuple[str, ...],
    token_env: str | None,
) -> None:
    """Add remote NAME at URL.

    URL is a metadata end (a server URL, a store URL or path, a bundle file) or a data end for
    artifact bytes (a directory, s3://, ssh://, file:// URLs), told apart by its form; --kind
    says which when that guess is wrong. --data adds a data end to a metadata one."""
    from mltrail.sync import remotes

    data_options = dict(remotes.parse_option(option) for option in options)
    added = remotes.add(
        name,
        url,
        data=data,
        kind=kind,  # type: ignore[arg-type]  # one of the click choices
        data_options=data_options,
        token_env=token_env,
    )
    ends = [e for e in (added.url, f"data {added.data}" if added.data else None) if e]
    click.echo(f"remote {added.name} added ({added.kind}): {', '.join(ends)}")


@remote.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def remote_list(as_json: bool) -> None:
    """List the remotes: name, kind, metadata URL, data URL (- when none)."""
    from mltrail.sync import remotes

    found = remotes.remotes()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in found.values()], indent=2))
        return
    for item in found.values():
        token = f"\ttoken from ${item.token_env}" if item.token_env else ""
        click.echo(f"{item.name}\t{item.kind}\t{item.url or '-'}\t{item.data or '-'}{token}")


@remote.command("remove")
@click.argument("name", shell_complete=complete_remotes)
def remote_remove(name: str) -> None:
    """Remove remote NAME."""
    from mltrail.sync import remotes

    removed = remotes.remove(name)
    click.echo(f"remote {removed.name} removed ({removed.url or removed.data})")


# ------------------------------------------------------------------------------ transfers


@click.command()
@click.argument("remote", required=False, shell_complete=complete_remotes)
@store_option
@subset_options("Send")
@batch_option
@click.option(
    "--to",
    "bundle",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Push into a bundle file instead (carry it where no network reaches; pull from it).",
)
def push(
    remote: str | None,
    store: str | None,
    context: str | None,
    artifact: int | None,
    execution: int | None,
    batch_size: int | None,
    bundle: str | None,
) -> None:
    """Send this store's changes to REMOTE.

    Only what REMOTE has not applied yet is sent; --context, --artifact or --execution send
    one part of the graph instead."""
    from mltrail import sync
    from mltrail.sync._peers import BundlePeer

    if bundle is not None and remote is not None:
        raise click.UsageError("give REMOTE or --to FILE, not both")
    if bundle is not None:
        target: Any = BundlePeer(bundle, target=True)
        token = None
    else:
        end = _remote(remote)
        target, token = end.metadata_url(), end.token()
    with contextlib.ExitStack() as stack:
        if isinstance(target, BundlePeer):
            stack.callback(target.close)  # given as an object, the push leaves it open
        progress = stack.enter_context(progress_bar())
        report = sync.push(
            _store(store),
            target,
            token=token,
            progress=progress,
            batch_size=batch_size or sync.BATCH_SIZE,
            **subset(context, artifact, execution),
        )
    click.echo(report.summary())


@click.command()
@click.argument("remote", required=False, shell_complete=complete_remotes)
@store_option
@subset_options("Bring in")
@batch_option
def pull(
    remote: str | None,
    store: str | None,
    context: str | None,
    artifact: int | None,
    execution: int | None,
    batch_size: int | None,
) -> None:
    """Bring REMOTE's changes into this store.

    Only what this store has not applied yet comes; --context, --artifact or --execution
    bring one part of REMOTE's graph instead (by REMOTE's ids and context names)."""
    from mltrail import sync

    end = _remote(remote)
    with progress_bar() as progress:
        report = sync.pull(
            _store(store),
            end.metadata_url(),
            token=end.token(),
            progress=progress,
            batch_size=batch_size or sync.BATCH_SIZE,
            **subset(context, artifact, execution),
        )
    click.echo(report.summary())


@click.command("sync")
@click.argument("remote", required=False, shell_complete=complete_remotes)
@store_option
@batch_option
@click.option(
    "--every",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Sync again every SECONDS until interrupted (a server federating with a peer).",
)
def sync_command(
    remote: str | None, store: str | None, batch_size: int | None, every: float | None
) -> None:
    """Push to REMOTE, then pull from it.

    Both end with the same graph. With --every, a round that fails for want of the network is
    reported and the next one tries again."""
    from mltrail import sync
    from mltrail.errors import AbortedError, DeadlineExceededError, UnavailableError

    end = _remote(remote)
    if end.metadata_url().endswith(".mltrail"):
        raise click.UsageError(
            "a bundle is not synced: push into it (mltrail push --to FILE), pull from it "
            "(mltrail pull FILE)"
        )
    token = end.token()
    size = batch_size or sync.BATCH_SIZE
    here, _ = sync.peer(_store(store))
    try:
        there, _ = sync.peer(end.metadata_url(), token=token)
    except BaseException:
        here.close()
        raise
    try:
        if every is None:
            _sync_round(here, there, size)
            return
        with _stopped_by_signal() as stop:
            while not stop.is_set():
                try:
                    _sync_round(here, there, size)
                except (UnavailableError, AbortedError, DeadlineExceededError) as exc:
                    click.echo(
                        f"error: {type(exc).__name__}: {exc} (again in {every:g} s)", err=True
                    )
                stop.wait(every)
        click.echo("stopped", err=True)
    except KeyboardInterrupt:  # a second Ctrl-C: stopped in the middle of a round
        if every is None:
            raise
        click.echo("stopped", err=True)
    finally:
        there.close()
        here.close()


def _sync_round(here: Any, there: Any, size: int) -> None:
    from mltrail import sync

    with progress_bar() as progress:
        sent = sync.push(here, there, progress=progress, batch_size=size)
        received = sync.pull(here, there, progress=progress, batch_size=size)
    click.echo(sent.summary())
    click.echo(received.summary())


class _Stop:
    """Set by the first SIGINT or SIGTERM (a flag, not a threading.Event: setting an event takes
    a lock the interrupted code may hold)."""

    def __init__(self) -> None:
        self.requested = False

    def is_set(self) -> bool:
        return self.requested

    def wait(self, seconds: float) -> None:
        """Sleep for SECONDS, or less once a stop is requested."""
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))


@contextlib.contextmanager
def _stopped_by_signal() -> Iterator[_Stop]:
    """A stop requested by the first SIGINT or SIGTERM: the round under way ends, and its
    transactions with it, before the loop stops (an interrupt raised in the middle of a round
    lands wherever the code is, a connection pool's clean-up included). A second signal
    interrupts at once."""
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def stop_after_round(signum: int, frame: object) -> None:
        if stop.requested:
            raise KeyboardInterrupt
        stop.requested = True

    previous = {
        number: signal.signal(number, stop_after_round)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


# -------------------------------------------------------------------------------- helpers


def _store(store: str | None) -> str:
    return store_location(store, create=True)


def _remote(name_or_url: str | None) -> Remote:
    from mltrail.sync import remotes

    return remotes.resolve(name_or_url)


def subset(context: str | None, artifact: int | None, execution: int | None) -> dict[str, Any]:
    """The keyword arguments of :func:`mltrail.sync.push` for the chosen subset options."""
    chosen: dict[str, Any] = {}
    if context is not None:
        chosen["context"] = int(context) if context.isdigit() else context
    if artifact is not None:
        chosen["artifact"] = artifact
    if execution is not None:
        chosen["execution"] = execution
    if len(chosen) > 1:
        raise click.UsageError(f"choose one subset, got --{' and --'.join(chosen)}")
    return chosen


@contextlib.contextmanager
def progress_bar(console: Console | None = None) -> Iterator[Callable[[Report], None]]:
    """A callback for :func:`mltrail.sync.push`'s ``progress`` that draws a bar on stderr (when
    it is a terminal): what has moved so far, per direction."""
    detail = "{task.fields[batches]} batch(es), {task.fields[records]} record(s)"
    with _progress.bar(console, detail) as drawn:
        if drawn is None:
            yield lambda report: None
            return
        tasks: dict[tuple[str, str], Any] = {}

        def update(report: Report) -> None:
            key = (report.source, report.target)
            if key not in tasks:
                label = f"{report.source} -> {report.target}"
                tasks[key] = drawn.add_task(label, total=None, batches=0, records=0)
            drawn.update(
                tasks[key],
                completed=report.bytes,
                batches=report.batches,
                records=report.records,
            )

        yield update
