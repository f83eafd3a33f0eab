"""``mltrail init``, ``mltrail status`` and ``mltrail migrate``: a project's store made, described
and upgraded; shells over :func:`mltrail.connect`, :func:`mltrail.migrate`,
:mod:`mltrail.sync.remotes` and :func:`mltrail.sync.unpushed`."""

from __future__ import annotations

from typing import Any

import click

from mltrail.cli._common import (
    missing_file,
    opened_store,
    output_options,
    print_json,
    store_location,
    store_option,
)


@click.command()
@store_option
@click.option(
    "--remote",
    "remote_url",
    metavar="URL",
    help="Also add a remote at URL (a server, a store, or a data end for artifact bytes).",
)
@click.option(
    "--remote-name",
    default="origin",
    show_default=True,
    metavar="NAME",
    help="The name of the remote --remote adds.",
)
def init(store: str | None, remote_url: str | None, remote_name: str) -> None:
    """Create the project's store (or STORE), ready for the Tracker and every command.

    Running it again on a store that exists only says so; a store with an older schema is left
    for `mltrail migrate`."""
    from mltrail.cli._common import connected

    location = store_location(store, create=True)
    new = missing_file(location) is not None
    with connected(location, migrate=new) as opened:
        version = getattr(opened, "schema_version", None)
        described = _describe(opened, location)
    schema = f" (schema version {version})" if version is not None else ""
    if new:
        click.echo(f"created store {described}{schema}")
    else:
        click.echo(f"store {described} exists{schema}: nothing to do")
    if remote_url is not None:
        from mltrail.sync import remotes

        added = remotes.add(remote_name, remote_url)
        ends = [e for e in (added.url, f"data {added.data}" if added.data else None) if e]
        click.echo(f"remote {added.name} added ({added.kind}): {', '.join(ends)}")


@click.command()
@store_option
@click.option("--offline", is_flag=True, help="Do not ask the remotes what they lack (no network).")
@output_options
def status(store: str | None, offline: bool, output: str) -> None:
    """The store: where it is, its schema version, what it holds, its remotes and what each of
    them lacks (changes a push would send)."""
    from mltrail.backends.sql.migrations import library_schema_version

    location = store_location(store)
    with opened_store(store) as opened:
        report: dict[str, Any] = {
            "store": _describe(opened, location),
            "schema_version": getattr(opened, "schema_version", None),
            "library_schema_version": library_schema_version(),
            "types": {
                "artifact": len(opened.get_artifact_types()),
                "execution": len(opened.get_execution_types()),
                "context": len(opened.get_context_types()),
            },
            "artifacts": opened.count_artifacts(),
            "executions": opened.count_executions(),
            "contexts": opened.count_contexts(),
            "remotes": _remotes(opened, offline),
        }
    if output == "json":
        print_json(report)
        return
    _print_status(report)


@click.command()
@store_option
@click.option("--dry-run", is_flag=True, help="Only show the versions and the migrations to run.")
def migrate(store: str | None, dry_run: bool) -> None:
    """Upgrade the store's schema to this mltrail's version, in one transaction.

    Back up a store before upgrading it: an older mltrail refuses the upgraded store."""
    import mltrail

    plan = mltrail.migrate(store_location(store), dry_run=dry_run)
    if plan.up_to_date:
        click.echo(f"{plan.location}: schema version {plan.current}, up to date")
        return
    verb = "would migrate" if dry_run else "migrated"
    click.echo(f"{plan.location}: {verb} from schema version {plan.current} to {plan.target}")
    for version, summary in plan.steps:
        click.echo(f"  {version}: {summary}")


# -------------------------------------------------------------------------------- helpers


def _describe(opened: Any, location: str) -> str:
    database = getattr(opened, "database", None)
    if database is None:  # a server
        return f"{location} (mltrail server)"
    return str(database.description)


def _remotes(opened: Any, offline: bool) -> list[dict[str, Any]]:
    """Each configured remote, and for one with a metadata end what a push would send."""
    from mltrail import sync
    from mltrail.errors import MltrailError
    from mltrail.sync import remotes

    found = []
    for remote in remotes.remotes().values():
        entry: dict[str, Any] = {"name": remote.name, "kind": remote.kind}
        entry.update(url=remote.url, data=remote.data)
        if remote.url is not None and not offline and hasattr(opened, "database"):
            try:
                counted = sync.unpushed(opened, remote)
            except MltrailError as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"
            else:
                entry["unpushed"] = {
                    "types": counted.types,
                    "artifacts": counted.artifacts,
                    "executions": counted.executions,
                    "contexts": counted.contexts,
                }
        found.append(entry)
    return found


def _print_status(report: dict[str, Any]) -> None:
    version = report["schema_version"]
    schema = (
        "(a server: it keeps its schema current)"
        if version is None
        else f"version {version}"
        + (
            ""
            if version == report["library_schema_version"]
            else f" (this mltrail: {report['library_schema_version']}; run `mltrail migrate`)"
        )
    )
    types = report["types"]
    rows = [
        ("store", report["store"]),
        ("schema", schema),
        (
            "types",
            f"{types['artifact']} artifact, {types['execution']} execution, "
            f"{types['context']} context",
        ),
        ("artifacts", f"{report['artifacts']:,}"),
        ("executions", f"{report['executions']:,}"),
        ("contexts", f"{report['contexts']:,}"),
    ]
    for remote in report["remotes"]:
        rows.append((f"remote {remote['name']}", _remote_line(remote)))
    if not report["remotes"]:
        rows.append(("remotes", "none (mltrail remote add NAME URL)"))
    width = max(len(key) for key, _ in rows) + 2
    for key, value in rows:
        click.echo(f"{key:<{width}}{value}")


def _remote_line(remote: dict[str, Any]) -> str:
    ends = ", ".join(e for e in (remote["url"], remote["data"] and f"data {remote['data']}") if e)
    if "error" in remote:
        return f"{ends}: cannot tell what it lacks ({remote['error']})"
    counted = remote.get("unpushed")
    if counted is None:
        return ends
    total = sum(counted.values())
    if not total:
        return f"{ends}: up to date"
    parts = ", ".join(f"{kind} {n}" for kind, n in counted.items() if n)
    return f"{ends}: not pushed yet: {parts}"
