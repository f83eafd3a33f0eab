"""A lineage graph drawn: as a tree walked from a node, as Graphviz DOT, as Mermaid, as JSON.

Edges follow the data: an input event is an edge from the artifact to the execution, an output
event one from the execution to the artifact. Upstream of a node are the sources of its incoming
edges (an artifact's producers, an execution's inputs), downstream the targets of its outgoing
ones. Events of other types (``UNKNOWN``) are drawn dashed from the artifact and not walked.

Nodes are named by a key: ``a12`` for artifact 12, ``e7`` for execution 7.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from mltrail.model import (
    INPUT_EVENT_TYPES,
    OUTPUT_EVENT_TYPES,
    Artifact,
    Execution,
    LineageDirection,
    LineageGraph,
)

UP, DOWN = LineageDirection.UPSTREAM, LineageDirection.DOWNSTREAM
FLOWS = INPUT_EVENT_TYPES | OUTPUT_EVENT_TYPES
_KIND_ORDER = {"a": 0, "e": 1}


def key_of(kind: str, node_id: int) -> str:
    """The key of a node: ``kind`` is "artifact" or "execution" (or "a" / "e")."""
    return f"{kind[0]}{node_id}"


def _order(key: str) -> tuple[int, int]:
    return _KIND_ORDER.get(key[0], 2), int(key[1:])


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def short(text: str, width: int = 40) -> str:
    """``text`` cut to ``width`` characters, keeping its end (where a path is most telling)."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


_DIGEST = re.compile(r"([a-z0-9]+):([0-9a-f]{12})[0-9a-f]+(\.dir)?", re.IGNORECASE)


def short_digest(text: str) -> str:
    """``sha256:<64 hex>`` as ``sha256:<12 hex>`` (a directory's ``.dir`` kept); any other
    text as it is."""
    found = _DIGEST.fullmatch(text)
    if found:
        return f"{found.group(1)}:{found.group(2)}{found.group(3) or ''}"
    return text


@dataclass(frozen=True)
class GraphNode:
    """What a drawing shows of an artifact or an execution."""

    kind: str  # "artifact" or "execution"
    id: int
    type: str | None
    name: str | None
    uri: str | None
    state: str | None
    external_id: str | None

    @property
    def key(self) -> str:
        return key_of(self.kind, self.id)

    @property
    def caption(self) -> str:
        """The name, else the uri, else (for artifacts) the short external id; may be empty."""
        if self.name:
            return short(_one_line(self.name))
        if self.uri:
            return short(_one_line(self.uri))
        if self.kind == "artifact" and self.external_id:
            return short(_one_line(short_digest(self.external_id)))
        return ""

    @property
    def label(self) -> str:
        """One line: kind and id, type, caption, state."""
        parts = [f"{self.kind} {self.id}", self.type or "", self.caption, self.state or ""]
        return " ".join(p for p in parts if p)

    def lines(self) -> list[str]:
        """The label as lines, for the boxes of a drawing."""
        parts = [f"{self.kind} {self.id}", self.type or "", self.caption, self.state or ""]
        return [p for p in parts if p]

    @classmethod
    def of(cls, node: Artifact | Execution) -> GraphNode:
        assert node.id is not None
        if isinstance(node, Artifact):
            state = node.state.name if node.state is not None else None
            return cls("artifact", node.id, node.type, node.name, node.uri, state, node.external_id)
        state = node.last_known_state.name if node.last_known_state is not None else None
        return cls("execution", node.id, node.type, node.name, None, state, node.external_id)


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    type: str  # the event type's name ("UNKNOWN" for any other than inputs and outputs)
    path: list[int | str]

    @property
    def flows(self) -> bool:
        """Whether the edge is an input or an output (walked and drawn solid)."""
        return self.type != "UNKNOWN"


class LineageView:
    """A lineage graph indexed for walking and drawing (optionally only some of its nodes)."""

    def __init__(self, graph: LineageGraph, keys: Collection[str] | None = None) -> None:
        both: list[Artifact | Execution] = [*graph.artifacts, *graph.executions]
        nodes = [GraphNode.of(n) for n in both]
        self.nodes = {n.key: n for n in nodes if keys is None or n.key in keys}
        self.truncated = graph.truncated
        edges: dict[tuple[str, str, str], GraphEdge] = {}
        for event in graph.events:
            if event.artifact_id is None or event.execution_id is None:
                continue
            artifact, execution = key_of("a", event.artifact_id), key_of("e", event.execution_id)
            if artifact not in self.nodes or execution not in self.nodes:
                continue
            source, target = artifact, execution
            if event.type in OUTPUT_EVENT_TYPES:
                source, target = execution, artifact
            kind = event.type.name if event.type in FLOWS else "UNKNOWN"
            edge = GraphEdge(source, target, kind, list(event.path))
            edges.setdefault((source, target, edge.type), edge)
        self.edges = [edges[k] for k in sorted(edges, key=lambda k: (_order(k[0]), _order(k[1])))]
        self._up: dict[str, list[str]] = collections.defaultdict(list)
        self._down: dict[str, list[str]] = collections.defaultdict(list)
        for edge in self.edges:
            if edge.flows:
                self._up[edge.target].append(edge.source)
                self._down[edge.source].append(edge.target)
        for lists in (self._up, self._down):
            for key in lists:
                lists[key] = sorted(set(lists[key]), key=_order)

    def ordered(self) -> list[str]:
        """The keys of the nodes, artifacts first, by id."""
        return sorted(self.nodes, key=_order)

    def next(self, key: str, direction: LineageDirection) -> list[str]:
        """The neighbours of ``key`` one step upstream or downstream."""
        return (self._up if direction == UP else self._down).get(key, [])

    def ends(self, direction: LineageDirection) -> list[str]:
        """Where walks in ``direction`` start to cover the graph: the nodes nothing comes after
        (walking upstream) or before (downstream), then one node of each cycle left over."""
        opposite = DOWN if direction == UP else UP
        found = [k for k in self.ordered() if not self.next(k, opposite)]
        covered = self.reach(found, direction)
        for key in self.ordered():
            if key not in covered:
                found.append(key)
                covered |= self.reach([key], direction)
        return found

    def reach(
        self,
        start: Iterable[str],
        direction: LineageDirection,
        max_depth: int | None = None,
    ) -> set[str]:
        """The nodes within ``max_depth`` steps of ``start`` walking in ``direction`` (both
        ways for BIDIRECTIONAL: the union of the walks upstream and downstream)."""
        if direction not in (UP, DOWN):
            return self.reach(start, UP, max_depth) | self.reach(start, DOWN, max_depth)
        depth = {k: 0 for k in start if k in self.nodes}
        queue = collections.deque(depth)
        while queue:
            key = queue.popleft()
            if max_depth is not None and depth[key] >= max_depth:
                continue
            for nxt in self.next(key, direction):
                if nxt not in depth:
                    depth[nxt] = depth[key] + 1
                    queue.append(nxt)
        return set(depth)


# ---------------------------------------------------------------------------------- the tree


@dataclass
class TreeNode:
    """A line of a lineage tree: a node (or, with ``node`` None, a heading such as
    "upstream"), its children, and whether it is a reference to a node shown above (then it
    has no children of its own)."""

    node: GraphNode | None
    heading: str = ""
    children: list[TreeNode] = field(default_factory=list)
    repeated: bool = False

    @property
    def text(self) -> str:
        if self.node is None:
            return self.heading
        return self.node.label + ("  (see above)" if self.repeated else "")

    def lines(self, prefix: str = "") -> list[str]:
        """The tree as plain text lines (the command line draws it with rich)."""
        out = [] if prefix else [self.text]
        for index, child in enumerate(self.children):
            last = index == len(self.children) - 1
            out.append(prefix + ("└── " if last else "├── ") + child.text)
            out += child.lines(prefix + ("    " if last else "│   "))
        return out


class _Walker:
    """Depth first, so that a node reached again is below its first appearance. With a depth
    limit, a node reached again nearer the root than before is expanded again (its subtree may
    go deeper from there); otherwise it is a reference."""

    def __init__(self, view: LineageView, max_depth: int | None) -> None:
        self.view = view
        self.max_depth = max_depth
        self.expanded: dict[str, int] = {}

    def walk(self, key: str, direction: LineageDirection, depth: int) -> TreeNode:
        node = TreeNode(self.view.nodes[key])
        self.expanded[key] = depth
        node.children = self.children(key, direction, depth)
        return node

    def children(self, key: str, direction: LineageDirection, depth: int) -> list[TreeNode]:
        if self.max_depth is not None and depth >= self.max_depth:
            return []
        out = []
        for nxt in self.view.next(key, direction):
            seen = self.expanded.get(nxt)
            if seen is not None and (self.max_depth is None or seen <= depth + 1):
                out.append(TreeNode(self.view.nodes[nxt], repeated=True))
            else:
                out.append(self.walk(nxt, direction, depth + 1))
        return out


def walks(direction: LineageDirection) -> list[tuple[str, LineageDirection]]:
    """The walks a direction means, with their headings: one unnamed walk up or down, or for
    BIDIRECTIONAL an "upstream" and a "downstream" one."""
    if direction in (UP, DOWN):
        return [("", direction)]
    return [("upstream", UP), ("downstream", DOWN)]


def lineage_tree(
    view: LineageView,
    root: str,
    direction: LineageDirection = UP,
    max_depth: int | None = None,
) -> TreeNode:
    """The tree of ``view`` from node ``root`` walking ``direction`` (for BIDIRECTIONAL two
    subtrees, "upstream" and "downstream"), at most ``max_depth`` steps deep."""
    walker = _Walker(view, max_depth)
    top = TreeNode(view.nodes[root])
    walker.expanded[root] = 0
    for heading, way in walks(direction):
        children = walker.children(root, way, 0)
        if heading:
            top.children.append(TreeNode(None, heading, children))
        else:
            top.children = children
    return top


def dag_tree(
    view: LineageView,
    heading: str,
    direction: LineageDirection = UP,
    max_depth: int | None = None,
) -> TreeNode:
    """The tree of a whole DAG under ``heading``: upstream from the nodes nothing comes after,
    or downstream from the nodes nothing comes before (both for BIDIRECTIONAL)."""
    top = TreeNode(None, heading)
    for subheading, way in walks(direction):
        walker = _Walker(view, max_depth)
        roots = []
        for key in view.ends(way):
            seen = walker.expanded.get(key)
            roots.append(
                TreeNode(view.nodes[key], repeated=True)
                if seen is not None
                else walker.walk(key, way, 0)
            )
        if subheading:
            top.children.append(TreeNode(None, subheading, roots))
        else:
            top.children = roots
    return top


# ---------------------------------------------------------------------------------- drawings


def graph_document(view: LineageView, **about: Any) -> dict[str, Any]:
    """The graph as JSON-ready data: ``about`` (e.g. the root and the direction) first, then
    ``nodes`` (by kind, then id), ``edges`` (source and target keys, event type and path) and
    ``truncated``."""
    return {
        **about,
        "nodes": [
            {
                "key": n.key,
                "kind": n.kind,
                "id": n.id,
                "type": n.type,
                "name": n.name,
                "uri": n.uri,
                "state": n.state,
                "external_id": n.external_id,
            }
            for n in (view.nodes[k] for k in view.ordered())
        ],
        "edges": [
            {"source": e.source, "target": e.target, "type": e.type, "path": e.path}
            for e in view.edges
        ],
        "truncated": view.truncated,
    }


def dot_text(text: str) -> str:
    """``text`` inside a DOT double-quoted string (backslashes, quotes and line breaks)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def to_dot(view: LineageView, highlight: Collection[str] = (), name: str = "lineage") -> str:
    """The graph in Graphviz's DOT language: artifacts as ellipses, executions as boxes, the
    ``highlight`` nodes drawn bold."""
    lines = [f'digraph "{dot_text(name)}" {{', "  rankdir=LR;", "  node [fontsize=10];"]
    for key in view.ordered():
        node = view.nodes[key]
        label = "\\n".join(dot_text(line) for line in node.lines())
        shape = "ellipse" if node.kind == "artifact" else "box"
        bold = ", penwidth=2" if key in highlight else ""
        lines.append(f'  {key} [label="{label}", shape={shape}{bold}];')
    for edge in view.edges:
        style = "" if edge.flows else f' [style=dashed, label="{dot_text(edge.type.lower())}"]'
        lines.append(f"  {edge.source} -> {edge.target}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_ENTITIES = {"#": "#35;", "&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}


def mermaid_text(text: str) -> str:
    """``text`` inside a Mermaid quoted label: characters Mermaid or HTML would read as markup
    become entity codes (``#quot;``...), line breaks spaces."""
    out = "".join(_MERMAID_ENTITIES.get(c, c) for c in text)
    return " ".join(out.replace("`", "#96;").splitlines())


def to_mermaid(view: LineageView, highlight: Collection[str] = ()) -> str:
    """The graph as a Mermaid flowchart, left to right: artifacts as stadiums, executions as
    rectangles, the ``highlight`` nodes with a thick border."""
    lines = ["flowchart LR"]
    for key in view.ordered():
        node = view.nodes[key]
        label = "<br/>".join(mermaid_text(line) for line in node.lines())
        lines.append(f'  {key}(["{label}"])' if node.kind == "artifact" else f'  {key}["{label}"]')
    for edge in view.edges:
        arrow = "-->" if edge.flows else f"-. {mermaid_text(edge.type.lower())} .->"
        lines.append(f"  {edge.source} {arrow} {edge.target}")
    marked = [k for k in view.ordered() if k in highlight]
    if marked:
        lines.append("  classDef start stroke-width:3px")
        lines.append(f"  class {','.join(marked)} start")
    return "\n".join(lines) + "\n"
