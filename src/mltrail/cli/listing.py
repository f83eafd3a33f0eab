"""What is in a store: ``mltrail ls`` (nodes and types, page by page), ``mltrail show`` (one node
with its properties and neighbours) and ``mltrail runs`` (a pipeline's runs side by side)."""

from __future__ import annotations

import itertools
import json
import shlex
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import click

from mltrail.cli._common import (
    KINDS,
    Found,
    cell,
    console,
    missing_file,
    opened_store,
    output_options,
    print_json,
    print_rows,
    resolve,
    store_location,
    store_option,
    when,
)

if TYPE_CHECKING:
    from rich.table import Table

    from mltrail.model import Context, Event
    from mltrail.store import MetadataStore
    from mltrail.tracking import PipelineRun

#: ``mltrail ls`` KIND: plural and singular forms.
LISTED = {
    **{f"{kind}s": kind for kind in KINDS},
    **{kind: kind for kind in KINDS},
    "types": "type",
    "type": "type",
}
#: ``--order-by`` choices and the store's names for them (``mltrail.model.OrderByField``).
ORDER_BY = {
    "create_time": "create_time",
    "last_update_time": "update_time",
    "update_time": "update_time",
    "id": "id",
}
DEFAULT_LIMIT = 50
#: Page size of ``--all`` when ``--limit`` is not given.
ALL_PAGE_SIZE = 1000
COLUMNS = {
    "artifact": ("id", "type", "name", "uri", "state", "created"),
    "execution": ("id", "type", "name", "state", "created"),
    "context": ("id", "type", "name", "created"),
}


# -------------------------------------------------------------------------------- ls


def complete_type_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """``--type``'s completion: the type names of the store the command line names (of the
    listed kind when it is given); nothing when there is no store or it cannot be read."""
    try:
        return [name for name in _type_names(ctx) if name.startswith(incomplete)]
    except Exception:  # completion must never fail
        return []


def _type_names(ctx: click.Context) -> list[str]:
    given = ctx.params.get("store") or (ctx.parent.params.get("store") if ctx.parent else None)
    location = store_location(given)
    if missing_file(location) is not None:
        return []
    import mltrail

    options = {"timeout": 3} if location.startswith(("http://", "https://")) else {}
    # The KIND argument may be left unparsed in ctx.args when the option's value is missing.
    words = [str(ctx.params.get("what") or ""), *ctx.args]
    kind = next((LISTED[w.lower()] for w in words if w.lower() in LISTED), None)
    with mltrail.connect(location, migrate=False, **options) as store:
        kinds = [kind] if kind in KINDS else list(KINDS)
        names = {t.name for each in kinds for t in getattr(store, f"get_{each}_types")()}
    return sorted(names)


@click.command("ls")
@click.argument(
    "what",
    metavar="KIND",
    type=click.Choice(list(LISTED), case_sensitive=False),
)
@click.option(
    "--type",
    "type_name",
    metavar="TYPE",
    shell_complete=complete_type_names,
    help="Only nodes of this type.",
)
@click.option(
    "--kind",
    "type_kind",
    type=click.Choice(KINDS),
    help="With `types`: only the types of artifacts, executions or contexts.",
)
@click.option(
    "--filter", "filter_query", metavar="QUERY", help="A filter query (filter-queries.md)."
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Rows per page (with --all: default 1000).",
)
@click.option(
    "--order-by",
    type=click.Choice(list(ORDER_BY)),
    default="create_time",
    show_default=True,
    help="The order of the rows (ties by id).",
)
@click.option("--asc/--desc", "ascending", default=False, help="Oldest first / newest (default).")
@click.option("--page-token", metavar="TOKEN", help="Continue a listing where its page ended.")
@click.option("--all", "every", is_flag=True, help="Every page, one after the other.")
@output_options
@store_option
@click.pass_context
def ls(
    ctx: click.Context,
    what: str,
    type_name: str | None,
    type_kind: str | None,
    filter_query: str | None,
    limit: int,
    order_by: str,
    ascending: bool,
    page_token: str | None,
    every: bool,
    output: str,
    store: str | None,
) -> None:
    """List the store's KIND: artifacts, executions, contexts or types; newest first.

    A page holds --limit rows; when more follow, the command to continue is printed on stderr
    (--json: the page's `next_page_token`).
    """
    kind = LISTED[what.lower()]
    if kind == "type":
        for name, value in (("--type", type_name), ("--filter", filter_query)):
            if value is not None:
                raise click.UsageError(f"{name} does not apply to types (use --kind)")
        if page_token is not None:
            raise click.UsageError("--page-token does not apply to types (they are not paged)")
        with opened_store(store) as opened:
            _list_types(opened, type_kind, output)
        return
    if type_kind is not None:
        raise click.UsageError("--kind applies to `mltrail ls types`; use --type for nodes")
    if every and page_token is not None:
        raise click.UsageError("give --all or --page-token, not both")
    given_limit = ctx.get_parameter_source("limit") is not click.core.ParameterSource.DEFAULT
    from mltrail.model import ListOptions

    options = ListOptions(
        limit=limit if given_limit or not every else ALL_PAGE_SIZE,
        order_by=ORDER_BY[order_by],
        is_asc=ascending,
        filter_query=filter_query,
        page_token=page_token,
    )
    with opened_store(store) as opened:
        pages = _pages(opened, kind, type_name, options, every)
        first = next(pages)  # a bad filter or type fails here, before anything is printed
        token = _print_pages(kind, itertools.chain([first], pages), output)
    if token is not None and output != "json":
        click.echo(f"more: {_continuation(ctx, token)}", err=True)


def _pages(
    store: MetadataStore, kind: str, type_name: str | None, options: Any, every: bool
) -> Iterator[tuple[list[Any], str | None]]:
    """Each page (its nodes and next page token): one store call per page."""
    while True:
        if type_name is not None:
            page = getattr(store, f"get_{kind}s_by_type")(type_name, list_options=options)
        else:
            page = getattr(store, f"get_{kind}s")(options)
        if not page and type_name is not None and options.page_token is None:
            _check_type(store, kind, type_name)
        yield list(page), page.next_page_token
        if not every or page.next_page_token is None:
            return
        options.page_token = page.next_page_token


def _check_type(store: MetadataStore, kind: str, type_name: str) -> None:
    from mltrail.errors import NotFoundError

    names = sorted(t.name for t in getattr(store, f"get_{kind}_types")())
    if type_name not in names:
        known = ", ".join(names) if names else "none yet"
        raise NotFoundError(f"no {kind} type named {type_name!r} (the {kind} types: {known})")


def _print_pages(kind: str, pages: Iterator[tuple[list[Any], str | None]], output: str) -> Any:
    """Print the pages as they come (a table once they are all read); the last page's token."""
    token: str | None = None
    if output == "table":
        rows: list[tuple[Any, ...]] = []
        for nodes, after in pages:
            rows += [_node_row(kind, node) for node in nodes]
            token = after
        print_rows(COLUMNS[kind], rows, output, empty=f"no {kind}s")
        return token
    if output == "csv":
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS[kind])
        for nodes, after in pages:
            writer.writerows([cell(v) for v in _node_row(kind, n)] for n in nodes)
            token = after
        return token
    from mltrail.model import to_dict

    first = True
    click.echo('{\n  "items": [', nl=False)
    for nodes, after in pages:
        token = after
        for node in nodes:
            text = json.dumps(to_dict(node), indent=2).replace("\n", "\n    ")
            click.echo(("\n" if first else ",\n") + "    " + text, nl=False)
            first = False
    click.echo(("\n  " if not first else "") + f'],\n  "next_page_token": {json.dumps(token)}\n}}')
    return token


def _node_row(kind: str, node: Any) -> tuple[Any, ...]:
    created = when(node.create_time_since_epoch)
    if kind == "artifact":
        return (node.id, node.type, node.name, node.uri, node.state, created)
    if kind == "execution":
        return (node.id, node.type, node.name, node.last_known_state, created)
    return (node.id, node.type, node.name, created)


def _continuation(ctx: click.Context, token: str) -> str:
    """The command that prints the next page: this one with ``--page-token``."""
    p = ctx.params
    words = ["mltrail", "ls", str(p["what"]).lower()]
    given = p["store"] or (ctx.parent.params.get("store") if ctx.parent else None)
    if given:
        words += ["--store", given]
    if p["type_name"] is not None:
        words += ["--type", p["type_name"]]
    if p["filter_query"] is not None:
        words += ["--filter", p["filter_query"]]
    if p["limit"] != DEFAULT_LIMIT:
        words += ["--limit", str(p["limit"])]
    if p["order_by"] != "create_time":
        words += ["--order-by", p["order_by"]]
    if p["ascending"]:
        words.append("--asc")
    if p["output"] != "table":
        words.append(f"--{p['output']}")
    return shlex.join([*words, "--page-token", token])


def _list_types(store: MetadataStore, only: str | None, output: str) -> None:
    found = [
        (kind, t)
        for kind in ([only] if only else KINDS)
        for t in getattr(store, f"get_{kind}_types")()
    ]
    if output == "json":
        from mltrail.model import to_dict

        items = [{"kind": kind, **to_dict(t)} for kind, t in found]
        print_json({"items": items, "next_page_token": None})
        return
    rows = [
        (kind, t.id, t.name, t.version, ", ".join(f"{n}:{v}" for n, v in t.properties.items()))
        for kind, t in found
    ]
    print_rows(("kind", "id", "name", "version", "properties"), rows, output, empty="no types")


# -------------------------------------------------------------------------------- show


@click.command()
@click.argument("reference", metavar="REF")
@click.option("--json", "as_json", is_flag=True, help="Print the node and its edges as JSON.")
@store_option
def show(reference: str, as_json: bool, store: str | None) -> None:
    """Show one node: its attributes, properties and neighbours.

    REF is `[a:|e:|c:]ID`, an external id or a name (a bare id is an artifact's). An
    artifact shows the executions that produced and consumed it, an execution its inputs and
    outputs, both the contexts they belong to; a context its parents, children and members.
    """
    with opened_store(store) as opened:
        found = resolve(opened, reference)
        edges = _edges(opened, found)
    if as_json:
        print_json({"kind": found.kind, "node": found.node, **edges})
        return
    _print_node(found, edges)


def _edges(store: MetadataStore, found: Found) -> dict[str, Any]:
    """The neighbours of ``found``, in a few calls (events by id, then their nodes by id)."""
    from mltrail.model import INPUT_EVENT_TYPES

    node_id = found.node.id or 0
    if found.kind == "context":
        scope = f"contexts_c.id = {node_id}"
        return {
            "parents": store.get_parent_contexts_by_context(node_id),
            "children": store.get_children_contexts_by_context(node_id),
            "members": {
                "artifacts": store.count_artifacts(scope),
                "executions": store.count_executions(scope),
            },
        }
    others: dict[int | None, Any]
    if found.kind == "artifact":
        events = store.get_events_by_artifact_ids([node_id])
        ids = sorted({e.execution_id for e in events if e.execution_id is not None})
        others = {n.id: n for n in store.get_executions_by_id(ids)}
        other, into, out_of = "execution", "consumers", "producers"
        contexts = store.get_contexts_by_artifact(node_id)
    else:
        events = store.get_events_by_execution_ids([node_id])
        ids = sorted({e.artifact_id for e in events if e.artifact_id is not None})
        others = {n.id: n for n in store.get_artifacts_by_id(ids)}
        other, into, out_of = "artifact", "inputs", "outputs"
        contexts = store.get_contexts_by_execution(node_id)
    edges: dict[str, Any] = {out_of: [], into: []}
    for event in events:
        neighbour = others.get(event.execution_id if other == "execution" else event.artifact_id)
        side = into if event.type in INPUT_EVENT_TYPES else out_of
        edges[side].append({other: neighbour, "event": event})
    edges["contexts"] = contexts
    if found.kind == "artifact":
        edges["cache"] = _cache_state(found.node)
    return edges


def _cache_state(artifact: Any) -> dict[str, Any] | None:
    """Whether the bytes of a file or directory artifact are in the project's cache (a stat per
    file); None for artifacts that are not files (no uri, or an external id that is no digest)."""
    if not artifact.uri or not artifact.external_id:
        return None
    import os

    from mltrail.data import Cache, Oid, default_cache_dir
    from mltrail.errors import MltrailError

    try:
        oid = Oid.parse(artifact.external_id)
    except MltrailError:
        return None
    cache = Cache(default_cache_dir())
    where = os.path.relpath(cache.directory)
    where = str(cache.directory) if where.startswith("..") else where
    if not cache.has(oid):
        return {"cache": where, "files": None if oid.is_dir else 1, "cached": 0}
    members = [member for _, member in cache.read_manifest(oid)] if oid.is_dir else [oid]
    cached = sum(cache.has(member) for member in members)
    return {"cache": where, "files": len(members), "cached": cached}


def _print_node(found: Found, edges: dict[str, Any]) -> None:
    node, kind = found.node, found.kind
    state = getattr(node, "state", None) or getattr(node, "last_known_state", None)
    header = [
        ("type", node.type),
        ("name", node.name),
        ("external id", node.external_id),
        ("uri", getattr(node, "uri", None)),
        ("state", state),
        ("created", when(node.create_time_since_epoch)),
        ("updated", when(node.last_update_time_since_epoch)),
    ]
    if edges.get("cache"):
        header.append(("bytes", _cache_text(edges["cache"])))
    _pairs(f"{kind} {node.id}", [(k, v) for k, v in header if v not in (None, "")])
    _pairs("properties", sorted(node.properties.items()))
    _pairs("custom properties", sorted(node.custom_properties.items()))
    if kind == "context":
        columns: tuple[str, ...] = ("id", "type", "name")
        _section("parents", columns, [(c.id, c.type, c.name) for c in edges["parents"]])
        _section("children", columns, [(c.id, c.type, c.name) for c in edges["children"]])
        members = edges["members"]
        _pairs(
            "members", [("artifacts", members["artifacts"]), ("executions", members["executions"])]
        )
        return
    if kind == "artifact":
        columns = ("execution", "type", "state", "event", "path")
        for title in ("producers", "consumers"):
            rows = [_execution_edge(e["execution"], e["event"]) for e in edges[title]]
            _section(f"{title} (executions)", columns, rows)
    else:
        columns = ("artifact", "type", "event", "path", "uri")
        for title in ("inputs", "outputs"):
            rows = [_artifact_edge(e["artifact"], e["event"]) for e in edges[title]]
            _section(f"{title} (artifacts)", columns, rows)
    context_rows = [(c.id, c.type, c.name) for c in edges["contexts"]]
    _section("contexts", ("id", "type", "name"), context_rows)


def _cache_text(state: dict[str, Any]) -> str:
    files, cached, where = state["files"], state["cached"], state["cache"]
    if files is None or cached == 0:
        return f"not in the cache ({where})"
    if cached == files:
        return f"in the cache ({where})"
    return f"{cached} of {files} files in the cache ({where})"


def _path(event: Event) -> str:
    return "/".join(str(step) for step in event.path)


def _execution_edge(execution: Any, event: Event) -> tuple[Any, ...]:
    if execution is None:
        return (event.execution_id, "", "", event.type, _path(event))
    return (execution.id, execution.type, execution.last_known_state, event.type, _path(event))


def _artifact_edge(artifact: Any, event: Event) -> tuple[Any, ...]:
    if artifact is None:
        return (event.artifact_id, "", event.type, _path(event), "")
    return (artifact.id, artifact.type, event.type, _path(event), artifact.uri)


def _readable(key: str, value: Any) -> str:
    """A value for a two-column table: short JSON on one line, longer JSON indented; a time in
    ms since the epoch (a ``..._time`` key) with its local time."""
    if key.endswith("_time") and isinstance(value, int) and value > 10**11:
        return f"{when(value)} ({value})"
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 60 else json.dumps(value, indent=2, sort_keys=True)
    return cell(value)


def _pairs(title: str, pairs: Sequence[tuple[str, Any]]) -> None:
    """A titled two-column table of keys and values (long values folded, JSON indented)."""
    if not pairs:
        return
    from rich.table import Table

    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0), pad_edge=False)
    table.add_column(no_wrap=True, style="bold")
    table.add_column(overflow="fold")
    for key, value in pairs:
        table.add_row(key, _readable(key, value))
    _titled(title, table)


def _section(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A titled table of rows under a header (nothing when there are no rows)."""
    if not rows:
        return
    table = _columns_table()
    for index, name in enumerate(columns):
        table.add_column(name, overflow="fold", no_wrap=index == 0)
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    _titled(title, table)


def _titled(title: str, table: Any) -> None:
    from rich.padding import Padding
    from rich.text import Text

    out = console()
    out.print(Text(title, style="bold"))
    out.print(Padding(table, (0, 0, 0, 2), expand=False))


# -------------------------------------------------------------------------------- runs


@click.command()
@click.argument("pipeline")
@click.option("--stage", metavar="STAGE", help="Only the runs of this stage.")
@click.option("--sort", "sort_by", metavar="COLUMN", help="Order by a parameter or metric.")
@click.option("--asc/--desc", "ascending", default=False, help="Smallest / largest first.")
@click.option("--limit", type=click.IntRange(1), help="At most this many runs (after sorting).")
@output_options
@store_option
def runs(
    pipeline: str,
    stage: str | None,
    sort_by: str | None,
    ascending: bool,
    limit: int | None,
    output: str,
    store: str | None,
) -> None:
    """The runs of PIPELINE side by side: one row per execution of its stages, with its
    parameters and the metrics it logged, newest first (or --sort by a column).

    PIPELINE is the pipeline's name or id. Metrics are the values of the Metrics artifacts a
    run output (`NAME.KEY` for metrics not named `metrics`) and the last value of each step
    series (`KEY_last`). Table: parameters and metrics equal in every row are printed once,
    under it.
    """
    from mltrail.tracking import pipeline_runs, sort_runs

    with opened_store(store) as opened:
        found = resolve(opened, pipeline, default="context", kinds=("context",))
        listed = pipeline_runs(opened, cast("Context", found.node), stage=stage)
    if sort_by is not None:
        listed = sort_runs(listed, sort_by, ascending=ascending)
    elif ascending:
        listed.reverse()
    listed = listed[:limit] if limit else listed
    _print_runs(listed, output, sort_by)


def _print_runs(listed: Sequence[PipelineRun], output: str, keep: str | None) -> None:
    parameters = sorted({key for run in listed for key in run.parameters})
    metrics = sorted({key for run in listed for key in run.metrics} - set(parameters))
    if output == "json":
        print_json([_run_record(r) for r in listed])
        return
    if output == "csv":
        columns = ["id", "stage", "state", "started", "duration_s", *parameters, *metrics]
        rows = [[_run_cell(r, c) for c in columns] for r in listed]
        print_rows(columns, rows, output)
        return
    if not listed:
        click.echo("no runs", err=True)
        return
    candidates = ["stage", "state", *parameters, *metrics] if len(listed) > 1 else []
    same = [key for key in candidates if key != keep and _constant(listed, key)]
    columns = [
        c
        for c in ("id", "stage", "state", "started", "duration", *parameters, *metrics)
        if c not in same
    ]
    rows = [[_run_cell(r, c) for c in columns] for r in listed]
    left_out = _runs_table(columns, rows, keep)
    if same:
        values = ", ".join(f"{k}={cell(listed[0].value(k))}" for k in same)
        click.echo(f"same in every run: {values}")
    if left_out:
        click.echo(
            f"left out to fit the terminal: {', '.join(left_out)} (--csv and --json show them)",
            err=True,
        )


def _run_record(run: PipelineRun) -> dict[str, Any]:
    from mltrail.model import to_dict

    return {
        "id": run.id,
        "stage": run.stage,
        "state": to_dict(run.execution.last_known_state),
        "start_time": run.start_time,
        "end_time": run.end_time,
        "duration_ms": run.duration_ms,
        "parameters": run.parameters,
        "metrics": run.metrics,
        "execution": run.execution,
    }


def _run_cell(run: PipelineRun, column: str) -> Any:
    if column == "started":
        return when(run.start_time)
    if column == "duration":
        return _duration(run.duration_ms)
    if column == "duration_s":
        return None if run.duration_ms is None else run.duration_ms / 1000
    return run.value(column)


def _constant(listed: Sequence[PipelineRun], key: str) -> bool:
    first = listed[0].value(key)
    return first is not None and all(r.value(key) == first for r in listed[1:])


def _runs_table(columns: list[str], rows: list[list[Any]], keep: str | None) -> list[str]:
    """A compact table (no vertical rules, numbers to the right). Cells are never wrapped or
    cut: when the columns do not fit the terminal, ``started`` goes first, then the last
    columns (never ``id`` or the sorted column). Returns the columns left out."""

    out = console()
    cells = [[cell(v) for v in row] for row in rows]
    widths = {c: max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)}
    shown = list(columns)
    droppable = ["started", *reversed(columns)]
    left_out: list[str] = []
    while sum(widths[c] for c in shown) + 2 * (len(shown) - 1) > out.width:
        victim = next((c for c in droppable if c in shown and c not in ("id", keep)), None)
        if victim is None:
            break
        shown.remove(victim)
        left_out.append(victim)
    table = _columns_table()
    for name in shown:
        index = columns.index(name)
        numeric = all(
            isinstance(row[index], int | float) and not isinstance(row[index], bool)
            for row in rows
            if row[index] is not None
        )
        right = numeric or name == "duration"
        table.add_column(name, justify="right" if right else "left", no_wrap=True)
    for row in cells:
        table.add_row(*(row[columns.index(name)] for name in shown))
    out.print(table)
    return [c for c in columns if c in left_out]


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds >= 10 else f"{seconds:.2f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _columns_table() -> Table:
    """An empty rich table with a bold header over columns one space apart, no frame."""
    from rich import box
    from rich.table import Table

    return Table(
        box=box.SIMPLE_HEAD,
        header_style="bold",
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
