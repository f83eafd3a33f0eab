"""Lineage graphs drawn (mltrail.query.render): trees walked from a node (shared nodes shown
once, then as references), depth limits, both directions, the tree of a whole DAG, and the DOT,
Mermaid and JSON forms, parsed back here."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import mltrail as m
from mltrail.query.render import (
    DOWN,
    UP,
    LineageView,
    dag_tree,
    dot_text,
    graph_document,
    lineage_tree,
    mermaid_text,
    short,
    short_digest,
    to_dot,
    to_mermaid,
)

BOTH = m.LineageDirection.BIDIRECTIONAL
T = m.EventType


class Build:
    """A LineageGraph made by hand: artifacts ``a<n>`` and executions ``e<n>``."""

    def __init__(self) -> None:
        self.graph = m.LineageGraph()

    def artifact(self, i: int, **fields: Any) -> None:
        fields = {"type": "Data", "uri": f"/d/{i}", "state": m.ArtifactState.LIVE, **fields}
        self.graph.artifacts.append(m.Artifact(id=i, **fields))

    def execution(
        self, i: int, inputs: list[int], outputs: list[int], state: str = "COMPLETE"
    ) -> None:
        self.graph.executions.append(
            m.Execution(id=i, type="Step", last_known_state=m.ExecutionState[state])
        )
        for a in inputs:
            self.graph.events.append(m.Event(artifact_id=a, execution_id=i, type=T.INPUT))
        for a in outputs:
            self.graph.events.append(m.Event(artifact_id=a, execution_id=i, type=T.OUTPUT))

    def view(self) -> LineageView:
        return LineageView(self.graph)


@pytest.fixture
def pipeline() -> LineageView:
    """raw (a1) and env (a2) -> prepare (e1) -> train.csv (a3); a3 and env -> train (e2) ->
    model (a4) and metrics (a5); a3 -> evaluate (e3) -> report (a6)."""
    b = Build()
    b.artifact(1, uri="data/raw.csv")
    b.artifact(2, type="Environment", uri=None, external_id="sha256:" + "ab" * 32)
    b.artifact(3, uri="data/train.csv")
    b.artifact(4, type="Model", uri="model.json")
    b.artifact(5, type="Metrics", uri=None, name="metrics")
    b.artifact(6, type="Report", uri="report.html", state=m.ArtifactState.PENDING)
    b.execution(1, [1, 2], [3])
    b.execution(2, [2, 3], [4, 5])
    b.execution(3, [3], [6], state="FAILED")
    return b.view()


def test_an_upstream_tree_shows_a_shared_input_once(pipeline: LineageView) -> None:
    tree = lineage_tree(pipeline, "a4")
    assert tree.lines() == [
        "artifact 4 Model model.json LIVE",
        "└── execution 2 Step COMPLETE",
        "    ├── artifact 2 Environment sha256:abababababab LIVE",
        "    └── artifact 3 Data data/train.csv LIVE",
        "        └── execution 1 Step COMPLETE",
        "            ├── artifact 1 Data data/raw.csv LIVE",
        "            └── artifact 2 Environment sha256:abababababab LIVE  (see above)",
    ]
    reference = tree.children[0].children[1].children[0].children[1]
    assert reference.repeated and reference.children == []


def test_a_downstream_tree_and_the_depth_limit(pipeline: LineageView) -> None:
    assert lineage_tree(pipeline, "a3", DOWN).lines() == [
        "artifact 3 Data data/train.csv LIVE",
        "├── execution 2 Step COMPLETE",
        "│   ├── artifact 4 Model model.json LIVE",
        "│   └── artifact 5 Metrics metrics LIVE",
        "└── execution 3 Step FAILED",
        "    └── artifact 6 Report report.html PENDING",
    ]
    assert lineage_tree(pipeline, "a3", DOWN, max_depth=1).lines() == [
        "artifact 3 Data data/train.csv LIVE",
        "├── execution 2 Step COMPLETE",
        "└── execution 3 Step FAILED",
    ]
    assert lineage_tree(pipeline, "a3", DOWN, max_depth=0).lines() == [
        "artifact 3 Data data/train.csv LIVE"
    ]
    # An execution as the root: its outputs and what was made of them.
    assert lineage_tree(pipeline, "e1", DOWN, max_depth=2).lines() == [
        "execution 1 Step COMPLETE",
        "└── artifact 3 Data data/train.csv LIVE",
        "    ├── execution 2 Step COMPLETE",
        "    └── execution 3 Step FAILED",
    ]


def test_both_directions_are_two_subtrees(pipeline: LineageView) -> None:
    assert lineage_tree(pipeline, "a3", BOTH, max_depth=2).lines() == [
        "artifact 3 Data data/train.csv LIVE",
        "├── upstream",
        "│   └── execution 1 Step COMPLETE",
        "│       ├── artifact 1 Data data/raw.csv LIVE",
        "│       └── artifact 2 Environment sha256:abababababab LIVE",
        "└── downstream",
        "    ├── execution 2 Step COMPLETE",
        "    │   ├── artifact 4 Model model.json LIVE",
        "    │   └── artifact 5 Metrics metrics LIVE",
        "    └── execution 3 Step FAILED",
        "        └── artifact 6 Report report.html PENDING",
    ]
    # Reaching both ways is the union of the two walks: a sibling branch (e2 seen from the
    # report) is neither upstream nor downstream.
    assert pipeline.reach(["a6"], BOTH) == {"a6", "e3", "a3", "e1", "a1", "a2"}
    assert pipeline.reach(["a6"], UP, max_depth=2) == {"a6", "e3", "a3"}


def test_a_node_reached_nearer_the_root_is_expanded_again_under_a_depth_limit() -> None:
    """x (a5) is first met deep (a0 <- e1 <- a1 <- e2 <- x), where the limit cuts its subtree,
    then right under e1: there it is drawn again with what lies above it."""
    b = Build()
    for i in (0, 1, 5, 9):
        b.artifact(i)
    b.execution(1, [1, 5], [0])
    b.execution(2, [5], [1])
    b.execution(3, [9], [5])
    view = b.view()
    assert lineage_tree(view, "a0", UP, max_depth=5).lines() == [
        "artifact 0 Data /d/0 LIVE",
        "└── execution 1 Step COMPLETE",
        "    ├── artifact 1 Data /d/1 LIVE",
        "    │   └── execution 2 Step COMPLETE",
        "    │       └── artifact 5 Data /d/5 LIVE",
        "    │           └── execution 3 Step COMPLETE",
        "    └── artifact 5 Data /d/5 LIVE",
        "        └── execution 3 Step COMPLETE",
        "            └── artifact 9 Data /d/9 LIVE",
    ]
    # Without a limit the first appearance is complete: the second is a reference.
    assert (
        lineage_tree(view, "a0", UP).lines()[-1] == "    └── artifact 5 Data /d/5 LIVE  (see above)"
    )


def test_a_cycle_ends_in_a_reference() -> None:
    b = Build()
    b.artifact(1)
    b.execution(1, [1], [1])  # the artifact is an input and an output of one execution
    view = b.view()
    assert lineage_tree(view, "a1").lines() == [
        "artifact 1 Data /d/1 LIVE",
        "└── execution 1 Step COMPLETE",
        "    └── artifact 1 Data /d/1 LIVE  (see above)",
    ]
    # Nothing comes after or before a node of a pure cycle: one of them starts the walk.
    assert view.ends(UP) == ["a1"]
    tree = dag_tree(view, "context 1 Run r")
    assert tree.lines()[1:] == [
        "└── artifact 1 Data /d/1 LIVE",
        "    └── execution 1 Step COMPLETE",
        "        └── artifact 1 Data /d/1 LIVE  (see above)",
    ]


def test_the_tree_of_a_whole_dag(pipeline: LineageView) -> None:
    assert pipeline.ends(DOWN) == ["a1", "a2"]
    assert pipeline.ends(UP) == ["a4", "a5", "a6"]
    assert dag_tree(pipeline, "context 1 Pipeline p", DOWN).lines() == [
        "context 1 Pipeline p",
        "├── artifact 1 Data data/raw.csv LIVE",
        "│   └── execution 1 Step COMPLETE",
        "│       └── artifact 3 Data data/train.csv LIVE",
        "│           ├── execution 2 Step COMPLETE",
        "│           │   ├── artifact 4 Model model.json LIVE",
        "│           │   └── artifact 5 Metrics metrics LIVE",
        "│           └── execution 3 Step FAILED",
        "│               └── artifact 6 Report report.html PENDING",
        "└── artifact 2 Environment sha256:abababababab LIVE",
        "    ├── execution 1 Step COMPLETE  (see above)",
        "    └── execution 2 Step COMPLETE  (see above)",
    ]
    both = dag_tree(pipeline, "context 1 Pipeline p", BOTH, max_depth=1)
    assert both.lines() == [
        "context 1 Pipeline p",
        "├── upstream",
        "│   ├── artifact 4 Model model.json LIVE",
        "│   │   └── execution 2 Step COMPLETE",
        "│   ├── artifact 5 Metrics metrics LIVE",
        "│   │   └── execution 2 Step COMPLETE  (see above)",
        "│   └── artifact 6 Report report.html PENDING",
        "│       └── execution 3 Step FAILED",
        "└── downstream",
        "    ├── artifact 1 Data data/raw.csv LIVE",
        "    │   └── execution 1 Step COMPLETE",
        "    └── artifact 2 Environment sha256:abababababab LIVE",
        "        ├── execution 1 Step COMPLETE  (see above)",
        "        └── execution 2 Step COMPLETE",
    ]


# ---------------------------------------------------------------------------------- DOT

DOT_NODE = re.compile(
    r'^  ([ae]\d+) \[label="((?:[^"\\]|\\.)*)", shape=(ellipse|box)(, penwidth=2)?\];$'
)
DOT_EDGE = re.compile(r'^  ([ae]\d+) -> ([ae]\d+)( \[style=dashed, label="((?:[^"\\]|\\.)*)"\])?;$')


def unescape(label: str) -> list[str]:
    """A DOT label's lines: ``\\n`` breaks a line, ``\\"`` and ``\\\\`` are a quote and a
    backslash."""
    lines, current, i = [], "", 0
    while i < len(label):
        if label[i] == "\\":
            escaped = label[i + 1]
            assert escaped in 'n"\\', f"an escape DOT labels do not use: {label[i : i + 2]}"
            if escaped == "n":
                lines.append(current)
                current = ""
            else:
                current += escaped
            i += 2
        else:
            current += label[i]
            i += 1
    return [*lines, current]


def parse_dot(text: str) -> tuple[dict[str, tuple[list[str], str, bool]], list[tuple[str, str]]]:
    """The nodes (label lines, shape, bold) and edges of a drawing by ``to_dot``: every line
    must be one of the forms it writes, and each label's escapes must be DOT's."""
    lines = text.splitlines()
    assert lines[0] == 'digraph "lineage" {' and lines[-1] == "}"
    assert lines[1:3] == ["  rankdir=LR;", "  node [fontsize=10];"]
    nodes: dict[str, tuple[list[str], str, bool]] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[3:-1]:
        node, edge = DOT_NODE.match(line), DOT_EDGE.match(line)
        assert node or edge, line
        if node:
            nodes[node.group(1)] = (unescape(node.group(2)), node.group(3), bool(node.group(4)))
        elif edge:
            assert edge.group(1) in nodes and edge.group(2) in nodes, "edges follow their nodes"
            edges.append((edge.group(1), edge.group(2)))
    return nodes, edges


def test_dot(pipeline: LineageView) -> None:
    nodes, edges = parse_dot(to_dot(pipeline, highlight=["a3"]))
    assert list(nodes) == ["a1", "a2", "a3", "a4", "a5", "a6", "e1", "e2", "e3"]
    assert nodes["a3"] == (["artifact 3", "Data", "data/train.csv", "LIVE"], "ellipse", True)
    assert nodes["e3"] == (["execution 3", "Step", "FAILED"], "box", False)
    assert sum(bold for _, _, bold in nodes.values()) == 1
    assert edges == [
        ("a1", "e1"),
        ("a2", "e1"),
        ("a2", "e2"),
        ("a3", "e2"),
        ("a3", "e3"),
        ("e1", "a3"),
        ("e2", "a4"),
        ("e2", "a5"),
        ("e3", "a6"),
    ]


def test_dot_escapes_labels_and_dashes_unknown_events() -> None:
    b = Build()
    odd = 'say "hi"\\n\nnext'
    b.artifact(1, uri=None, name=odd)
    b.artifact(2)
    b.execution(1, [1], [2])
    b.graph.events.append(m.Event(artifact_id=2, execution_id=1, type=T.UNKNOWN))
    text = to_dot(b.view())
    assert dot_text(odd) == 'say \\"hi\\"\\\\n\\nnext'
    nodes, edges = parse_dot(text)
    assert nodes["a1"][0] == ["artifact 1", "Data", 'say "hi"\\n next', "LIVE"]
    assert ("a2", "e1") in edges
    assert '  a2 -> e1 [style=dashed, label="unknown"];' in text.splitlines()
    assert "  e1 -> a2;" in text.splitlines()
    # The dashed edge is not walked.
    assert lineage_tree(b.view(), "e1").lines() == [
        "execution 1 Step COMPLETE",
        '└── artifact 1 Data say "hi"\\n next LIVE',  # one line whatever the name holds
    ]


# ---------------------------------------------------------------------------------- Mermaid

MERMAID_ARTIFACT = re.compile(r'^  (a\d+)\(\["([^"]*)"\]\)$')
MERMAID_EXECUTION = re.compile(r'^  (e\d+)\["([^"]*)"\]$')
MERMAID_EDGE = re.compile(r"^  ([ae]\d+) (-->|-\. [a-z_]+ \.->) ([ae]\d+)$")


def test_mermaid(pipeline: LineageView) -> None:
    text = to_mermaid(pipeline, highlight=["a3", "e2"])
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    labels: dict[str, str] = {}
    edges = []
    for line in lines[1:-2]:
        found = MERMAID_ARTIFACT.match(line) or MERMAID_EXECUTION.match(line)
        if found:
            labels[found.group(1)] = found.group(2)
            continue
        edge = MERMAID_EDGE.match(line)
        assert edge, line
        assert edge.group(1) in labels and edge.group(3) in labels
        edges.append((edge.group(1), edge.group(3)))
    assert labels["a3"] == "artifact 3<br/>Data<br/>data/train.csv<br/>LIVE"
    assert labels["e3"] == "execution 3<br/>Step<br/>FAILED"
    assert len(edges) == 9 and ("e1", "a3") in edges
    assert lines[-2:] == ["  classDef start stroke-width:3px", "  class a3,e2 start"]
    assert "classDef" not in to_mermaid(pipeline)


def test_mermaid_labels_hold_no_markup() -> None:
    assert mermaid_text('a "b" <i>#1</i> & `c`\nd') == (
        "a #quot;b#quot; #lt;i#gt;#35;1#lt;/i#gt; #amp; #96;c#96; d"
    )
    b = Build()
    b.artifact(1, uri=None, name='x" --> y["z')
    b.artifact(2)
    b.execution(1, [1], [2])
    lines = to_mermaid(b.view()).splitlines()
    artifact = MERMAID_ARTIFACT.match(lines[1])
    assert artifact is not None and artifact.group(2).startswith("artifact 1<br/>Data<br/>x#quot;")
    assert sum(bool(MERMAID_EDGE.match(line)) for line in lines) == 2


# ---------------------------------------------------------------------------------- JSON


def test_graph_document(pipeline: LineageView) -> None:
    document = json.loads(json.dumps(graph_document(pipeline, root="a3", direction="both")))
    assert list(document) == ["root", "direction", "nodes", "edges", "truncated"]
    assert [n["key"] for n in document["nodes"]] == [
        "a1",
        "a2",
        "a3",
        "a4",
        "a5",
        "a6",
        "e1",
        "e2",
        "e3",
    ]
    assert document["nodes"][1] == {
        "key": "a2",
        "kind": "artifact",
        "id": 2,
        "type": "Environment",
        "name": None,
        "uri": None,
        "state": "LIVE",
        "external_id": "sha256:" + "ab" * 32,
    }
    assert document["nodes"][8]["state"] == "FAILED"
    assert {"source": "e1", "target": "a3", "type": "OUTPUT", "path": []} in document["edges"]
    assert len(document["edges"]) == 9 and document["truncated"] is False
    only = LineageView(pipeline_graph(pipeline), keys={"a3", "e1"})
    assert [n["key"] for n in graph_document(only)["nodes"]] == ["a3", "e1"]
    assert graph_document(only)["edges"] == [
        {"source": "e1", "target": "a3", "type": "OUTPUT", "path": []}
    ]


def pipeline_graph(view: LineageView) -> m.LineageGraph:
    graph = m.LineageGraph()
    for node in view.nodes.values():
        if node.kind == "artifact":
            graph.artifacts.append(m.Artifact(id=node.id, type=node.type, uri=node.uri))
        else:
            graph.executions.append(m.Execution(id=node.id, type=node.type))
    graph.events = [
        m.Event(
            artifact_id=int((e.target if e.source[0] == "e" else e.source)[1:]),
            execution_id=int((e.source if e.source[0] == "e" else e.target)[1:]),
            type=T[e.type],
        )
        for e in view.edges
    ]
    return graph


def test_short_texts() -> None:
    assert short("x" * 40) == "x" * 40
    assert short("a/" + "x" * 50) == "…" + "x" * 39
    assert short_digest("sha256:" + "0f" * 32) == "sha256:0f0f0f0f0f0f"
    assert short_digest("md5:" + "a" * 32 + ".dir") == "md5:aaaaaaaaaaaa.dir"
    assert short_digest("not a digest") == "not a digest"


def test_a_store_answer_drawn(store: m.MetadataStore) -> None:
    data = store.put_artifact_type(m.ArtifactType(name="Data"))
    store.put_execution_type(m.ExecutionType(name="Step"))
    [raw] = store.put_artifacts([m.Artifact(type_id=data, uri="/raw")])
    execution, [_, out], _ = store.put_execution(
        m.Execution(type="Step", last_known_state=m.ExecutionState.COMPLETE),
        [
            (None, m.Event(artifact_id=raw, type=T.INPUT)),
            (m.Artifact(type_id=data, uri="/out"), m.Event(type=T.OUTPUT)),
        ],
        [],
    )
    view = LineageView(store.get_provenance(out))
    assert lineage_tree(view, f"a{out}").lines() == [
        f"artifact {out} Data /out",
        f"└── execution {execution} Step COMPLETE",
        f"    └── artifact {raw} Data /raw",
    ]
