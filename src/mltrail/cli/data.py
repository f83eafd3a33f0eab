"""``mltrail artifact push|pull|checkout`` and ``mltrail gc``: shells over :mod:`mltrail.data`.

REMOTE is a configured remote with a data end (by name), a directory, or a data URL
(``s3://bucket/prefix``, ``ssh://user@host/path``, ...); without one, the only configured
remote with a data end. The store (``--store``, default ``$MLTRAIL_STORE``, else the working
tree's ``.mltrail/mltrail.db``) says which artifacts there are; the cache (``--cache``, default
``$MLTRAIL_CACHE``, else ``.mltrail/cache``) holds their bytes here. A progress bar shows on
stderr while objects move (on a terminal); one summary line goes to stdout at the end, or a
JSON document with ``--json``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mltrail.cli._common import complete_remotes, store_location, store_option
from mltrail.cli._progress import transfer_bar

if TYPE_CHECKING:
    from mltrail.data import Cache, ObjectStore, TransferReport
    from mltrail.store import MetadataStore

cache_option = click.option(
    "--cache",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="The local cache (default: $MLTRAIL_CACHE, else .mltrail/cache).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")


def selection_options(verb: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(
            [
                click.option(
                    "--context",
                    metavar="NAME|ID",
                    help=f"{verb} the artifacts of one pipeline (digits are read as an id).",
                ),
                click.option(
                    "--artifact",
                    "artifacts",
                    multiple=True,
                    metavar="ID|DIGEST",
                    help=f"{verb} this artifact (an id or a digest); repeatable.",
                ),
                click.option(
                    "--jobs",
                    type=click.IntRange(1),
                    metavar="N",
                    help="Objects moved at once (default: 4 per CPU, at most 16).",
                ),
                store_option,
                cache_option,
                json_option,
            ]
        ):
            command = option(command)
        return command

    return decorate


@click.group()
def artifact() -> None:
    """Artifact bytes: push them to a remote, pull them, check them out."""


@artifact.command("push")
@click.argument("remote", required=False, shell_complete=complete_remotes)
@selection_options("Push")
def artifact_push(
    remote: str | None,
    context: str | None,
    artifacts: tuple[str, ...],
    jobs: int | None,
    store: str | None,
    cache: str | None,
    as_json: bool,
) -> None:
    """Send the bytes of this store's artifacts to REMOTE.

    Only objects REMOTE lacks are sent (each verified against its digest); by default every
    artifact with bytes, or those of --context or --artifact. Bytes not in the cache yet are
    added from the paths the artifacts were logged at."""
    _move("push", remote, context, artifacts, jobs, store, cache, as_json)


@artifact.command("pull")
@click.argument("remote", required=False, shell_complete=complete_remotes)
@selection_options("Pull")
def artifact_pull(
    remote: str | None,
    context: str | None,
    artifacts: tuple[str, ...],
    jobs: int | None,
    store: str | None,
    cache: str | None,
    as_json: bool,
) -> None:
    """Bring the bytes of this store's artifacts from REMOTE into the cache.

    Every object is verified against its digest before it lands; a download cut short resumes
    where it stopped. Check the bytes out with mltrail artifact checkout."""
    _move("pull", remote, context, artifacts, jobs, store, cache, as_json)


def _move(
    direction: str,
    remote: str | None,
    context: str | None,
    artifacts: tuple[str, ...],
    jobs: int | None,
    store: str | None,
    cache: str | None,
    as_json: bool,
) -> None:
    """``mltrail artifact push`` or ``pull``: one transfer with its bar, then its summary."""
    from mltrail import data

    label, there = _data_remote(remote)
    verb, arrow, past, preposition = (
        (data.push, "->", "pushed", "to")
        if direction == "push"
        else (data.pull, "<-", "pulled", "from")
    )
    with _opened(store) as opened, transfer_bar(f"{direction} {arrow} {label}") as progress:
        report = verb(
            opened,
            there,
            cache=_cache(cache),
            progress=progress,
            jobs=jobs,
            **_selection(context, artifacts),
        )
    _summary(past, preposition, label, report, as_json)


@artifact.command("checkout")
@click.argument("target", metavar="ID|DIGEST")
@click.option(
    "--to",
    "to",
    metavar="PATH",
    type=click.Path(),
    help="Where the bytes go (default: the path the artifact was logged at).",
)
@click.option(
    "--link",
    type=click.Choice(["auto", "copy", "reflink", "hardlink"]),
    default="auto",
    show_default=True,
    help="How files are made from the cache (auto: reflink where possible, else a copy).",
)
@click.option("--force", is_flag=True, help="Replace existing files that differ.")
@click.option(
    "--remote",
    metavar="REMOTE",
    help="Pull from REMOTE first when the bytes are not in the cache (default: the only "
    "configured remote with a data end, if any).",
)
@store_option
@cache_option
@json_option
def artifact_checkout(
    target: str,
    to: str | None,
    link: str,
    force: bool,
    remote: str | None,
    store: str | None,
    cache: str | None,
    as_json: bool,
) -> None:
    """Make the bytes of artifact ID (or of DIGEST) present at its path.

    A file or a directory (or a data slice's files) is written from the cache, each file
    atomically; identical files in place are left alone, differing ones refused unless
    --force. Bytes not in the cache are pulled from the remote first."""
    from mltrail import data
    from mltrail._project import project_root
    from mltrail.tracking import _fetch

    local = _cache(cache)
    wanted = Path(to).absolute() if to is not None else None
    if target.isdigit() or wanted is None:  # the store says what it is, and where it was logged
        with _opened(store) as opened:
            found = _fetch.find_artifact(opened, target)
        destination, placed = _fetch.placements(found, wanted, project_root())
        name = found.external_id or str(found.id)
    else:  # a digest checked out to a path needs no store
        destination, placed = wanted, [(data.Oid.parse(target), wanted)]
        name = target
    oids = [oid for oid, _ in placed]
    label, there = _checkout_remote(remote, local, oids)
    with transfer_bar(f"pull <- {label}") as progress:
        pulled = _fetch.present(local, oids, there, progress=progress)
    for oid, path in placed:
        data.checkout(local, oid, path, link=link, force=force)
    fetched = pulled.bytes if pulled is not None else 0
    if as_json:
        document = {"object": name, "path": str(destination), "pulled_bytes": fetched}
        click.echo(json.dumps(document, indent=2))
        return
    source = f" (pulled {fetched:,} bytes from {label})" if pulled is not None else ""
    click.echo(f"checked out {name} at {destination}{source}")


@click.command("gc")
@click.option("--force", is_flag=True, help="Remove the objects (default: only say which).")
@click.option(
    "--min-age",
    type=click.FloatRange(min=0),
    default=3600.0,
    show_default=True,
    metavar="SECONDS",
    help="Keep objects younger than this (a log in flight may be adding them).",
)
@store_option
@cache_option
@json_option
def gc(force: bool, min_age: float, store: str | None, cache: str | None, as_json: bool) -> None:
    """Remove objects of the cache that no artifact of the store refers to.

    Without --force nothing is removed: it says what would be. Objects of every artifact
    with bytes are kept, with data-slice members and the files of kept directories."""
    from mltrail import data

    with _opened(store) as opened:
        report = data.gc(opened, _cache(cache), dry_run=not force, min_age=min_age)
    removed = [oid.external_id for oid in report.removed]
    if as_json:
        document = {
            "dry_run": report.dry_run,
            "removed": removed,
            "removed_bytes": report.removed_bytes,
            "kept": report.kept,
            "kept_bytes": report.kept_bytes,
            "young": report.young,
            "temporaries": report.temporaries,
        }
        click.echo(json.dumps(document, indent=2))
        return
    if report.dry_run:
        for name in removed:  # what --force would remove
            click.echo(f"would remove {name}")
    young = f", {report.young} unreferenced but younger than {min_age:g} s" if report.young else ""
    click.echo(
        f"{'would remove' if report.dry_run else 'removed'} {len(removed)} object(s), "
        f"{report.removed_bytes:,} bytes; kept {report.kept} object(s), "
        f"{report.kept_bytes:,} bytes{young}"
        + (" (dry run: --force removes them)" if report.dry_run else "")
    )


# -------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _opened(store: str | None) -> Iterator[MetadataStore]:
    import mltrail

    with mltrail.connect(store_location(store, create=True)) as opened:
        yield opened


def _cache(cache: str | None) -> Cache:
    from mltrail._project import project_root
    from mltrail.data import Cache, default_cache_dir

    return Cache(cache if cache is not None else default_cache_dir(project_root()))


def _data_remote(name_or_url: str | None) -> tuple[str, ObjectStore]:
    """The data end REMOTE stands for, and how the summary names it."""
    from mltrail.sync import remotes

    chosen = remotes.resolve_data(name_or_url)
    return chosen.name or str(chosen.data), chosen.open_data()


def _checkout_remote(
    name_or_url: str | None, cache: Cache, oids: list[Any]
) -> tuple[str, ObjectStore | None]:
    """The remote to pull from when objects are missing: the one given, else the only one
    configured (none when there is none, or when the objects are in the cache already)."""
    if name_or_url is not None:
        return _data_remote(name_or_url)
    if all(cache.has(oid) for oid in oids):
        return "", None
    from mltrail.errors import InvalidArgumentError, NotFoundError

    try:
        return _data_remote(None)
    except (NotFoundError, InvalidArgumentError):
        return "", None  # the missing object is then the error


def _selection(context: str | None, artifacts: tuple[str, ...]) -> dict[str, Any]:
    if context is not None and artifacts:
        raise click.UsageError("give --context or --artifact, not both")
    if context is not None:
        return {"context": int(context) if context.isdigit() else context}
    if artifacts:
        return {"artifacts": [int(a) if a.isdigit() else a for a in artifacts]}
    return {}


def _summary(verb: str, direction: str, label: str, report: TransferReport, as_json: bool) -> None:
    missing = sorted(oid.external_id for oid in report.missing)
    failed = {oid.external_id: why for oid, why in sorted(report.failed.items(), key=str)}
    if as_json:
        document = {
            "remote": label,
            "transferred": report.transferred,
            "skipped": report.skipped,
            "bytes": report.bytes,
            "missing": missing,
            "failed": failed,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        line = (
            f"{verb} {report.transferred} object(s), {report.bytes:,} bytes {direction} {label}; "
            f"{report.skipped} already there"
        )
        if missing:
            line += f"; {len(missing)} missing at the source"
        click.echo(line)
    if failed:
        from mltrail.errors import FailedPreconditionError

        first = next(iter(failed.items()))
        raise FailedPreconditionError(
            f"{len(failed)} object(s) could not be {verb}, first {first[0]}: {first[1]}; run "
            "the command again to retry them (what arrived stays)"
        )
