"""``mltrail lineage``, ``compare``, ``cached`` and ``why-rerun``: where a node came from and
what was made of it, nodes side by side, and whether an execution's work was done before.

Each is a shell over one question of the store (``lineage`` / ``get_context_dag``,
``compare_nodes``, ``find_cached_execution`` / ``explain_cache_miss``); the drawings come from
:mod:`mltrail.query.render`.
"""

from __future__ import annotations

import csv
import enum
import re
import sys
from typing import TYPE_CHECKING, Any, cast

import click

from mltrail.cli import _common

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

    from mltrail.model import Artifact, Execution, LineageGraph
    from mltrail.query.compare import ComparedField, Comparison
    from mltrail.query.render import TreeNode
    from mltrail.store import MetadataStore

DIRECTIONS = {"upstream": "UPSTREAM", "downstream": "DOWNSTREAM", "both": "BIDIRECTIONAL"}
#: Custom properties the Tracker keeps for itself (fingerprint, owner, heartbeat...).
BOOKKEEPING = "custom_properties.mltrail."


# -------------------------------------------------------------------------------- lineage


@click.command()
@click.argument("ref")
@click.option(
    "--up",
    "direction",
    flag_value="upstream",
    default=True,
    help="Where REF came from: its producers, their inputs... (the default).",
)
@click.option("--down", "direction", flag_value="downstream", help="What was made from REF.")
@click.option("--both", "direction", flag_value="both", help="Upstream and downstream.")
@click.option(
    "--depth",
    type=click.IntRange(0),
    metavar="N",
    help="At most N steps from REF (artifact to execution is one); default: no limit.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tree", "dot", "mermaid", "json", "prov"]),
    default="tree",
    show_default=True,
    help="A tree in the terminal, Graphviz DOT, a Mermaid flowchart, JSON nodes and edges, or "
    "W3C PROV-JSON (with the contexts; needs mltrail[prov]).",
)
@_common.store_option
def lineage(ref: str, direction: str, depth: int | None, fmt: str, store: str | None) -> None:
    """The lineage of REF: an artifact (a bare id is one), an execution (e:ID) or a context
    (c:ID or its name: the DAG of that pipeline or run)."""
    from mltrail.model import LineageDirection
    from mltrail.query import render

    way = LineageDirection[DIRECTIONS[direction]]
    with _common.opened_store(store) as opened:
        found = _common.resolve(opened, ref)
        node_id = int(found.node.id or 0)
        if found.kind == "context":
            graph = opened.get_context_dag(node_id)
        elif found.kind == "artifact":
            graph = opened.lineage(artifact_ids=[node_id], direction=way, max_hops=depth)
        else:
            graph = opened.lineage(execution_ids=[node_id], direction=way, max_hops=depth)
    whole = render.LineageView(graph)
    if found.kind == "context":
        starts = [key for _, walk in render.walks(way) for key in whole.ends(walk)]
        root = None
    else:
        root = render.key_of(found.kind, node_id)
        starts = [root]
    keys = None if found.kind == "context" and depth is None else whole.reach(starts, way, depth)
    view = render.LineageView(graph, keys)
    if fmt == "prov":
        from mltrail.query.prov import to_prov_json

        click.echo(to_prov_json(_shown(graph, set(view.nodes))))
    elif fmt == "json":
        about = {"root": {"kind": found.kind, "id": node_id}, "direction": direction}
        _common.print_json(render.graph_document(view, **about, depth=depth))
    elif fmt == "dot":
        click.echo(render.to_dot(view, highlight=[root] if root else []), nl=False)
    elif fmt == "mermaid":
        click.echo(render.to_mermaid(view, highlight=[root] if root else []), nl=False)
    elif root is None:
        heading = f"context {node_id} {found.node.type or ''} {found.node.name or ''}".strip()
        _print_tree(render.dag_tree(view, " ".join(heading.split()), way, depth))
    else:
        _print_tree(render.lineage_tree(view, root, way, depth))


def _shown(graph: LineageGraph, keys: set[str]) -> LineageGraph:
    """``graph`` cut to the nodes drawn (``keys``), with every context of the graph."""
    from dataclasses import replace

    from mltrail.query import render

    return replace(
        graph,
        artifacts=[a for a in graph.artifacts if render.key_of("a", a.id or 0) in keys],
        executions=[e for e in graph.executions if render.key_of("e", e.id or 0) in keys],
    )


def _print_tree(top: TreeNode) -> None:
    from rich.tree import Tree

    tree = Tree(_tree_label(top, root=True), guide_style="dim")
    _grow(tree, top)
    _common.console().print(tree)


def _grow(tree: Tree, node: TreeNode) -> None:
    for child in node.children:
        _grow(tree.add(_tree_label(child)), child)


def _tree_label(node: TreeNode, *, root: bool = False) -> Text:
    from rich.text import Text

    if node.node is None:
        return Text(node.heading, style="bold", no_wrap=True, overflow="ellipsis")
    text = Text(node.node.label, style="bold" if root else "", no_wrap=True, overflow="ellipsis")
    if node.repeated:
        text.append("  (see above)", style="dim")
    return text


# -------------------------------------------------------------------------------- compare

_ID_REFERENCE = re.compile(r"(?:(a|e|c|artifact|execution|context):)?(\d+)", re.IGNORECASE)


def _nodes_of(opened: MetadataStore, refs: tuple[str, ...]) -> tuple[str, list[int]]:
    """The kind and ids of the nodes ``refs`` name: ids as given are taken as they are (the
    comparison reads them all at once), names and external ids are looked up."""
    named: list[tuple[str, str, int]] = []
    for ref in refs:
        match = _ID_REFERENCE.fullmatch(ref.strip())
        if match:
            prefix = (match.group(1) or "artifact").lower()
            named.append((ref, _common.PREFIXES[prefix], int(match.group(2))))
        else:
            found = _common.resolve(opened, ref, kinds=("artifact", "execution"))
            named.append((ref, found.kind, int(found.node.id or 0)))
    kinds = {kind for _, kind, _ in named}
    if "context" in kinds:
        which = next(ref for ref, kind, _ in named if kind == "context")
        raise click.BadParameter(
            f"{which!r} names a context; compare artifacts or executions", param_hint="REFS"
        )
    if len(kinds) > 1:
        shown = ", ".join(f"{ref!r} is an {kind}" for ref, kind, _ in named)
        raise click.UsageError(
            f"compare takes nodes of one kind: {shown}; give only artifacts or only executions"
        )
    return named[0][1], [node_id for _, _, node_id in named]


@click.command()
@click.argument("refs", nargs=-1, required=True)
@click.option("--diff", is_flag=True, help="Show only the rows whose values differ.")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Show the custom properties the Tracker keeps for itself too (mltrail.*).",
)
@_common.output_options
@_common.store_option
def compare(
    refs: tuple[str, ...], diff: bool, everything: bool, output: str, store: str | None
) -> None:
    """Two or more artifacts (a bare id is one), or two or more executions (e:ID), side by
    side: fields, properties and custom properties (executions: parameters, inputs and
    outputs), a * on the rows whose values differ."""
    if len(refs) < 2:
        raise click.UsageError("give two or more artifacts, or two or more executions")
    with _common.opened_store(store) as opened:
        kind, ids = _nodes_of(opened, refs)
        if kind == "artifact":
            comparison = opened.compare_nodes(artifact_ids=ids)
        else:
            comparison = opened.compare_nodes(execution_ids=ids)
    rows = [
        row
        for row in comparison.fields
        if (row.differs or not diff) and (everything or not row.field.startswith(BOOKKEEPING))
    ]
    hidden = sum(
        row.field.startswith(BOOKKEEPING) and (row.differs or not diff) for row in comparison.fields
    )
    heads = [f"{kind} {node.id}" for node in comparison.nodes]
    if output == "json":
        _common.print_json(_comparison_document(comparison, rows))
    elif output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["field", "differs", *heads])
        for row in rows:
            values = [_common.cell(_plain(v)) for v in row.values]
            writer.writerow([row.field, "true" if row.differs else "false", *values])
    else:
        table = [(row.field, "*" if row.differs else "", *_cells(row)) for row in rows]
        _common.print_rows(["field", "", *heads], table, "table", empty="no row differs")
        if hidden and not everything:
            click.echo(f"{hidden} mltrail.* rows not shown (--all shows them)", err=True)


def _plain(value: Any) -> Any:
    return value.name if isinstance(value, enum.Enum) else value


def _cells(row: ComparedField) -> list[str]:
    from mltrail.query.render import short_digest

    out = []
    for value in row.values:
        if row.field.endswith("time_since_epoch") and isinstance(value, int):
            out.append(_common.when(value))
        elif isinstance(value, str):
            out.append(short_digest(value))
        elif value is None:
            out.append("—")
        else:
            out.append(_common.cell(_plain(value)))
    return out


def _comparison_document(comparison: Comparison, rows: list[ComparedField]) -> dict[str, Any]:
    from mltrail.model import to_dict

    return {
        "kind": comparison.kind,
        "nodes": to_dict(comparison.nodes),
        "fields": [
            {"field": row.field, "values": to_dict(row.values), "differs": row.differs}
            for row in rows
        ],
    }


# -------------------------------------------------------------------------------- caching

json_flag = click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")


def _execution(opened: MetadataStore, ref: str) -> Execution:
    found = _common.resolve(opened, ref, default="execution", kinds=("execution",))
    return cast("Execution", found.node)


def _label(node: Artifact | Execution) -> str:
    from mltrail.query.render import GraphNode

    return GraphNode.of(node).label


@click.command()
@click.argument("ref")
@json_flag
@_common.store_option
def cached(ref: str, as_json: bool, store: str | None) -> None:
    """Whether the work of execution REF (a bare id is one) was done before: an earlier
    COMPLETE execution with the same fingerprint (type, parameters, code version, input
    contents), and the outputs REF could reuse."""
    from mltrail.model import to_dict
    from mltrail.query.fingerprint import Fingerprint

    with _common.opened_store(store) as opened:
        execution = _execution(opened, ref)
        fingerprint = Fingerprint.recorded_on(execution)
        hit = opened.find_cached_execution(fingerprint, before_execution_id=execution.id)
    if as_json:
        answer = None
        if hit is not None:
            answer = {"execution": to_dict(hit.execution), "outputs": to_dict(hit.outputs)}
        _common.print_json(
            {
                "execution": to_dict(execution),
                "fingerprint": fingerprint.digest,
                "cached": answer,
            }
        )
        return
    if hit is None:
        click.echo(
            f"no earlier execution completed with the fingerprint of execution {execution.id} "
            f"({execution.type}): its work had not been done before"
        )
        click.echo(f"`mltrail why-rerun {execution.id}` says what differs", err=True)
        return
    outputs = f"{len(hit.outputs)} output" + ("" if len(hit.outputs) == 1 else "s")
    click.echo(
        f"execution {execution.id} can reuse execution {hit.execution.id}'s outputs (same "
        f"fingerprint, recorded {_common.when(hit.execution.create_time_since_epoch)}): "
        f"{outputs}"
    )
    for artifact in hit.outputs:
        click.echo(f"  {_label(artifact)}")


@click.command("why-rerun")
@click.argument("ref")
@json_flag
@_common.store_option
def why_rerun(ref: str, as_json: bool, store: str | None) -> None:
    """Why execution REF (a bare id is one) did its work again: what differs from the nearest
    earlier execution of its type (parameters, inputs, code version), before → after."""
    from mltrail.model import to_dict
    from mltrail.query.fingerprint import Fingerprint

    with _common.opened_store(store) as opened:
        execution = _execution(opened, ref)
        fingerprint = Fingerprint.recorded_on(execution)
        why = opened.explain_cache_miss(fingerprint, before_execution_id=execution.id)
    if as_json:
        cached_answer = None
        if why.cached is not None:
            cached_answer = {
                "execution": to_dict(why.cached.execution),
                "outputs": to_dict(why.cached.outputs),
            }
        _common.print_json(
            {
                "execution": to_dict(execution),
                "fingerprint": fingerprint.digest,
                "nearest": to_dict(why.nearest),
                "differences": to_dict(why.differences),
                "cached": cached_answer,
            }
        )
        return
    this = f"execution {execution.id}"
    if why.cached is not None:
        earlier = why.cached.execution.id
        click.echo(
            f"nothing differs: execution {earlier} completed the same work before {this} "
            f"(same fingerprint); `mltrail cached {execution.id}` lists its outputs"
        )
    elif why.nearest is None:
        click.echo(
            f"no earlier execution of type {execution.type} was recorded with a fingerprint: "
            f"{this} is the first"
        )
    elif not why.differences:
        state = why.nearest.last_known_state
        click.echo(
            f"execution {why.nearest.id} had the same fingerprint but did not complete "
            f"({state.name if state is not None else 'no state'}): {this} did its work again"
        )
    else:
        click.echo(
            f"{this} differs from execution {why.nearest.id}, the nearest earlier execution "
            f"of type {execution.type}:"
        )
        for difference in why.differences:
            click.echo(f"  {difference}")
