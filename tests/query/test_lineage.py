"""Lineage: walks up, down or both ways from artifacts and executions, and the questions built on
them (provenance, impact, producers and consumers, the DAG of a context, two artifacts compared).

A hop is one step between an artifact and an execution. Answers are compared as sets of node
names; the strongest check compares every answer on a random DAG with a breadth-first search
computed here from ``get_events_by_*`` calls.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Iterable
from typing import Any

import pytest

import mltrail as m
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.model import INPUT_EVENT_TYPES, OUTPUT_EVENT_TYPES

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

EType = m.EventType
Direction = m.LineageDirection


class Graph:
    """Builds lineage through ``put_execution`` and names every node (artifacts and executions
    share one name space)."""

    def __init__(self, store: m.MetadataStore) -> None:
        self.store = store
        self.ids: dict[str, int] = {}
        self.kinds: dict[str, str] = {}  # name -> "a" or "e" (ids of the two kinds overlap)
        self.names: dict[tuple[str, int], str] = {}
        props = {"k": m.PropertyType.INT}
        self.types = {
            "Dataset": store.put_artifact_type(m.ArtifactType(name="Dataset", properties=props)),
            "Model": store.put_artifact_type(m.ArtifactType(name="Model")),
            "Step": store.put_execution_type(m.ExecutionType(name="Step", properties=props)),
            "Trainer": store.put_execution_type(m.ExecutionType(name="Trainer")),
            "Pipeline": store.put_context_type(m.ContextType(name="Pipeline")),
            "Stage": store.put_context_type(m.ContextType(name="Stage")),
        }
        # Types no node uses: never part of an answer.
        store.put_artifact_type(m.ArtifactType(name="UnusedArtifact"))
        store.put_execution_type(m.ExecutionType(name="UnusedExecution"))
        store.put_context_type(m.ContextType(name="UnusedContext"))

    def _remember(self, kind: str, name: str, node_id: int) -> int:
        assert name not in self.ids
        self.ids[name] = node_id
        self.kinds[name] = kind
        self.names[(kind, node_id)] = name
        return node_id

    def artifact(self, name: str, type_name: str = "Dataset", **extra: Any) -> int:
        [new_id] = self.store.put_artifacts(
            [m.Artifact(type_id=self.types[type_name], name=name, **extra)]
        )
        return self._remember("a", name, new_id)

    def step(
        self,
        name: str,
        inputs: Iterable[str | tuple[str, EType]] = (),
        outputs: Iterable[str | tuple[str, EType]] = (),
        *,
        type_name: str = "Step",
        output_type: str = "Dataset",
        contexts: Iterable[m.Context] = (),
        state: m.ExecutionState = m.ExecutionState.COMPLETE,
    ) -> int:
        """Record an execution; inputs are existing artifacts, outputs new ones unless known."""
        pairs: list[tuple[m.Artifact | None, m.Event]] = []
        new: list[tuple[int, str]] = []
        for spec, default in [(i, EType.INPUT) for i in inputs] + [
            (o, EType.OUTPUT) for o in outputs
        ]:
            artifact_name, event_type = spec if isinstance(spec, tuple) else (spec, default)
            if artifact_name in self.ids:
                pairs.append((None, m.Event(artifact_id=self.ids[artifact_name], type=event_type)))
            else:
                new.append((len(pairs), artifact_name))
                artifact = m.Artifact(type_id=self.types[output_type], name=artifact_name)
                pairs.append((artifact, m.Event(type=event_type)))
        execution = m.Execution(type_id=self.types[type_name], name=name, last_known_state=state)
        execution_id, artifact_ids, _ = self.store.put_execution(
            execution, pairs, list(contexts), reuse_context_if_already_exist=True
        )
        for position, artifact_name in new:
            self._remember("a", artifact_name, artifact_ids[position])
        return self._remember("e", name, execution_id)

    def nodes(self, graph: m.LineageGraph) -> set[str]:
        """The names of a graph's artifacts and executions."""
        found = {self.names[("a", int(a.id or 0))] for a in graph.artifacts}
        found |= {self.names[("e", int(e.id or 0))] for e in graph.executions}
        assert len(found) == len(graph.artifacts) + len(graph.executions), "duplicates"
        return found

    def lineage(self, start: Iterable[str] = (), **options: Any) -> set[str]:
        """Names reached from the named starting nodes (also checks the graph's events)."""
        names = list(start)
        graph = self.store.lineage(
            artifact_ids=[self.ids[n] for n in names if self.kinds[n] == "a"] or None,
            execution_ids=[self.ids[n] for n in names if self.kinds[n] == "e"] or None,
            **options,
        )
        check_events(self.store, graph)
        return self.nodes(graph)


def check_events(store: m.MetadataStore, graph: m.LineageGraph) -> None:
    """A graph's events are exactly the stored events between its artifacts and executions."""
    artifacts = {a.id for a in graph.artifacts}
    executions = [int(e.id or 0) for e in graph.executions]
    stored = store.get_events_by_execution_ids(executions) if executions else []
    expected = sorted(
        (e.artifact_id, e.execution_id, int(e.type)) for e in stored if e.artifact_id in artifacts
    )
    got = sorted((e.artifact_id, e.execution_id, int(e.type)) for e in graph.events)
    assert got == expected


def names(prefix: str, numbers: Iterable[int]) -> set[str]:
    return {f"{prefix}{i}" for i in numbers}


# ----------------------------------------------------------------------------------- a chain


@pytest.fixture
def chain(store: m.MetadataStore) -> Graph:
    """a0 → x0 → a1 → x1 → … → a30, one put_execution per step."""
    g = Graph(store)
    g.artifact("a0")
    for i in range(30):
        g.step(f"x{i}", [f"a{i}"], [f"a{i + 1}"])
    return g


def test_chain_directions_and_hops(chain: Graph) -> None:
    everything = names("a", range(31)) | names("x", range(30))
    got = {
        ("up", None): chain.lineage(["a5"], direction="upstream"),
        ("down", None): chain.lineage(["a5"], direction="downstream"),
        ("both", None): chain.lineage(["a5"], direction="both"),
        ("up", 0): chain.lineage(["a5"], direction="upstream", max_hops=0),
        ("up", 1): chain.lineage(["a5"], direction="upstream", max_hops=1),
        ("up", 2): chain.lineage(["a5"], direction="upstream", max_hops=2),
        ("up", 3): chain.lineage(["a5"], direction="upstream", max_hops=3),
        ("up", 4): chain.lineage(["a5"], direction="upstream", max_hops=4),
        ("down", 3): chain.lineage(["a5"], direction="downstream", max_hops=3),
        ("down", 4): chain.lineage(["a5"], direction="downstream", max_hops=4),
        ("both", 2): chain.lineage(["a5"], direction="both", max_hops=2),
        ("both", 100): chain.lineage(["a5"], direction="both", max_hops=100),
    }
    assert got == {
        ("up", None): names("a", range(6)) | names("x", range(5)),
        ("down", None): names("a", range(5, 31)) | names("x", range(5, 30)),
        ("both", None): everything,
        ("up", 0): {"a5"},
        ("up", 1): {"a5", "x4"},
        ("up", 2): {"a5", "x4", "a4"},
        ("up", 3): {"a5", "x4", "a4", "x3"},
        ("up", 4): {"a3", "x3", "a4", "x4", "a5"},  # MLMD verified: a3..a5
        ("down", 3): {"a5", "x5", "a6", "x6"},
        ("down", 4): {"a5", "x5", "a6", "x6", "a7"},  # MLMD verified: a5..a7
        ("both", 2): {"a4", "x4", "a5", "x5", "a6"},
        ("both", 100): everything,
    }
    _chain_from_executions(chain)


def _chain_from_executions(chain: Graph) -> None:
    got = {
        ("down", 1): chain.lineage(["x3"], direction="downstream", max_hops=1),
        ("up", 1): chain.lineage(["x3"], direction="upstream", max_hops=1),
        ("up", 0): chain.lineage(["x3"], direction="upstream", max_hops=0),
        ("both", 2): chain.lineage(["x3"], direction="both", max_hops=2),
        ("up", None): chain.lineage(["x3"], direction="upstream"),
        ("down", None): chain.lineage(["x27"], direction="downstream"),
    }
    assert got == {
        ("down", 1): {"x3", "a4"},  # MLMD verified
        ("up", 1): {"x3", "a3"},
        ("up", 0): {"x3"},
        ("both", 2): {"x2", "a3", "x3", "a4", "x4"},
        ("up", None): names("a", range(4)) | names("x", range(4)),
        ("down", None): {"x27", "a28", "x28", "a29", "x29", "a30"},
    }


def test_chain_starting_nodes_by_filter(chain: Graph) -> None:
    s = chain.store

    def walk(**options: Any) -> set[str]:
        graph = s.lineage(**options)
        check_events(s, graph)
        return chain.nodes(graph)

    assert walk(artifacts_filter="name = 'a5'", max_hops=4) == {"a3", "x3", "a4", "x4", "a5"}
    assert walk(artifacts_filter="name IN ('a5', 'a20')", max_hops=2) == {
        "a4",
        "x4",
        "a5",
        "a19",
        "x19",
        "a20",
    }
    assert walk(executions_filter="name = 'x3'", direction="down", max_hops=1) == {"x3", "a4"}
    assert walk(artifacts_filter="name = 'nothing'") == set()
    assert walk(artifact_ids=[]) == set()
    _lineage_arguments(chain)


def test_chain_stop_nodes(chain: Graph) -> None:
    down = {"direction": "downstream"}
    got = {
        "stop a7": chain.lineage(["a5"], stop_at_artifacts="name = 'a7'", **down),
        "stop a7, included": chain.lineage(
            ["a5"], stop_at_artifacts="name = 'a7'", include_stop_nodes=True, **down
        ),
        "stop x6": chain.lineage(["a5"], stop_at_executions="name = 'x6'", **down),
        "stop x6, included": chain.lineage(
            ["a5"], stop_at_executions="name = 'x6'", include_stop_nodes=True, **down
        ),
        "stop a7, hops 2": chain.lineage(
            ["a5"], stop_at_artifacts="name = 'a7'", max_hops=2, **down
        ),
        "start is a stop node": chain.lineage(["a5"], stop_at_artifacts="name = 'a5'", **down),
        "start is a stop node, included": chain.lineage(
            ["a5"], stop_at_artifacts="name = 'a5'", include_stop_nodes=True, **down
        ),
        "start execution is a stop node": chain.lineage(
            ["x3"], stop_at_executions="name = 'x3'", **down
        ),
        "start execution is a stop node, included": chain.lineage(
            ["x3"], stop_at_executions="name = 'x3'", include_stop_nodes=True, **down
        ),
        "the only start matches the stop filter": chain.lineage(
            ["a9"], direction="upstream", stop_at_artifacts="name LIKE 'a_'", max_hops=10
        ),
        "stop at x12 and x17, both ways": chain.lineage(
            ["a15"], direction="both", stop_at_executions="name IN ('x12', 'x17')"
        ),
    }
    assert got == {
        "stop a7": {"a5", "x5", "a6", "x6"},  # MLMD verified: a5, a6
        "stop a7, included": {"a5", "x5", "a6", "x6", "a7"},  # MLMD verified: a5..a7
        "stop x6": {"a5", "x5", "a6"},
        "stop x6, included": {"a5", "x5", "a6", "x6"},
        "stop a7, hops 2": {"a5", "x5", "a6"},
        "start is a stop node": set(),
        "start is a stop node, included": {"a5"},
        "start execution is a stop node": set(),
        "start execution is a stop node, included": {"x3"},
        # a9 is the only starting node and it matches: nothing is walked.
        "the only start matches the stop filter": set(),
        "stop at x12 and x17, both ways": names("a", range(13, 18)) | names("x", range(13, 17)),
    }
    _chain_max_nodes(chain)


def _chain_max_nodes(chain: Graph) -> None:
    s, ids = chain.store, chain.ids
    total = 61  # 31 artifacts, 30 executions

    def walk(**options: Any) -> tuple[set[str], bool]:
        graph = s.lineage(artifact_ids=[ids["a30"]], direction="upstream", **options)
        check_events(s, graph)
        return chain.nodes(graph), graph.truncated

    assert walk(max_nodes=5) == ({"a30", "x29", "a29", "x28", "a28"}, True)
    assert walk(max_nodes=1) == ({"a30"}, True)
    assert walk(max_nodes=total) == (names("a", range(31)) | names("x", range(30)), False)
    assert walk(max_nodes=total + 1)[1] is False
    assert walk()[1] is False
    nodes, truncated = walk(max_nodes=total - 1)
    assert truncated
    assert nodes == names("a", range(1, 31)) | names("x", range(30))  # a0 is the farthest
    assert walk(max_hops=4, max_nodes=3) == ({"a30", "x29", "a29"}, True)
    assert walk(max_hops=4, max_nodes=5) == ({"a30", "x29", "a29", "x28", "a28"}, False)
    # Nearest first from several starting nodes, both ways.
    both = s.lineage(artifact_ids=[ids["a10"], ids["a20"]], direction="both", max_nodes=6)
    assert both.truncated
    assert chain.nodes(both) == {"a10", "a20", "x9", "x10", "x19", "x20"}


def _lineage_arguments(chain: Graph) -> None:
    s, a5 = chain.store, chain.ids["a5"]
    one_hop_up = {"a5", "x4"}
    for direction in ("upstream", "UP", "up", Direction.UPSTREAM, 1):
        assert chain.nodes(s.lineage(artifact_ids=[a5], direction=direction, max_hops=1)) == (
            one_hop_up
        ), direction
    for direction in ("both", "BIDIRECTIONAL", Direction.BIDIRECTIONAL, 0, "direction_unspecified"):
        graph = s.lineage(artifact_ids=[a5], direction=direction, max_hops=1)
        assert chain.nodes(graph) == {"a5", "x4", "x5"}, direction
    assert chain.nodes(s.lineage(artifact_ids=[a5], max_hops=1)) == one_hop_up  # default
    for bad in (
        {"direction": "sideways"},
        {"direction": 7},
        {"max_hops": -1},
        {"max_hops": 1.5},
        {"max_hops": True},
        {"max_nodes": -1},
        {"artifact_ids": [a5, "6"]},
        {"artifact_ids": a5},
    ):
        options = {"artifact_ids": [a5], **bad}
        with pytest.raises(InvalidArgumentError):
            s.lineage(**options)
    with pytest.raises(InvalidArgumentError):
        s.lineage()
    assert chain.nodes(s.lineage(artifact_ids=[999_999])) == set()


# ------------------------------------------------------------------------------------ a DAG


@pytest.fixture
def dag(store: m.MetadataStore) -> Graph:
    """Two pipelines sharing the artifact ``vocab``.

    pipeline 1 (contexts: stages prep and fit, children of pipe1)::

        raw1 ─┐
        raw2 ─┴→ ingest → clean ─┐
                         vocab ──┼→ featurize → feats ─┬→ train → model ─┐
                         cache ⇄─┘  (cache is input    └→ evaluate ←─────┘ → metrics
                                     and output)                  metrics → summarize → report

    pipeline 2: vocab → p2_train → model2. ``summarize`` is also directly in pipe1.
    """
    g = Graph(store)
    ctx = g.types
    pipe1 = m.Context(type_id=ctx["Pipeline"], name="pipe1")
    pipe2 = m.Context(type_id=ctx["Pipeline"], name="pipe2")
    prep = m.Context(type_id=ctx["Stage"], name="prep")
    fit = m.Context(type_id=ctx["Stage"], name="fit")
    g.artifact("raw1", properties={"k": 1})
    g.artifact("raw2")
    g.artifact("vocab", properties={"k": 2})
    g.artifact("cache")
    g.step("ingest", ["raw1", ("raw2", EType.DECLARED_INPUT)], ["clean"], contexts=[prep])
    g.step(
        "featurize",
        ["clean", "vocab", "cache"],
        ["feats", ("cache", EType.OUTPUT)],
        contexts=[prep],
    )
    g.step("train", ["feats"], ["model"], type_name="Trainer", output_type="Model", contexts=[fit])
    g.step("evaluate", ["model", "feats"], [("metrics", EType.INTERNAL_OUTPUT)], contexts=[fit])
    g.step("summarize", ["metrics"], [("report", EType.PENDING_OUTPUT)], contexts=[fit, pipe1])
    g.step(
        "p2_train",
        ["vocab"],
        ["model2"],
        type_name="Trainer",
        output_type="Model",
        contexts=[pipe2],
    )
    contexts = {c.name: c.id for c in store.get_contexts()}
    store.put_parent_contexts(
        [
            m.ParentContext(child_id=contexts["prep"], parent_id=contexts["pipe1"]),
            m.ParentContext(child_id=contexts["fit"], parent_id=contexts["pipe1"]),
        ]
    )
    for name, context_id in contexts.items():
        g.ids[f"ctx:{name}"] = int(context_id or 0)
    return g


PIPELINE_1 = {
    "raw1",
    "raw2",
    "ingest",
    "clean",
    "vocab",
    "cache",
    "featurize",
    "feats",
    "train",
    "model",
    "evaluate",
    "metrics",
    "summarize",
    "report",
}
UPSTREAM_OF_MODEL = {
    "model",
    "train",
    "feats",
    "featurize",
    "clean",
    "vocab",
    "cache",
    "ingest",
    "raw1",
    "raw2",
}


def test_dag_walks(dag: Graph) -> None:
    got = {
        "up model": dag.lineage(["model"], direction="upstream"),
        "down vocab": dag.lineage(["vocab"], direction="downstream"),
        "down clean 2": dag.lineage(["clean"], direction="downstream", max_hops=2),
        "both model2": dag.lineage(["model2"], direction="both"),
        "both model2 2": dag.lineage(["model2"], direction="both", max_hops=2),
        "both model2 3": dag.lineage(["model2"], direction="both", max_hops=3),
        "up cache": dag.lineage(["cache"], direction="upstream"),
        "down cache": dag.lineage(["cache"], direction="downstream"),
        "up cache 1": dag.lineage(["cache"], direction="upstream", max_hops=1),
        "down cache 1": dag.lineage(["cache"], direction="downstream", max_hops=1),
        "up evaluate": dag.lineage(["evaluate"], direction="upstream"),
        "down evaluate": dag.lineage(["evaluate"], direction="downstream"),
        "up report": dag.lineage(["report"], direction="upstream", max_hops=4),
        "down raw2 + p2_train": dag.lineage(["raw2", "p2_train"], direction="downstream"),
        "up metrics, stop at feats": dag.lineage(
            ["metrics"], direction="upstream", stop_at_artifacts="name = 'feats'"
        ),
        "up metrics, stop at Trainer": dag.lineage(
            ["metrics"],
            direction="upstream",
            stop_at_executions="type = 'Trainer'",
            include_stop_nodes=True,
        ),
    }
    assert got == {
        "up model": UPSTREAM_OF_MODEL,
        "down vocab": {
            "vocab",
            "featurize",
            "feats",
            "cache",
            "train",
            "model",
            "evaluate",
            "metrics",
            "summarize",
            "report",
            "p2_train",
            "model2",
        },
        "down clean 2": {"clean", "featurize", "feats", "cache"},
        "both model2": PIPELINE_1 | {"p2_train", "model2"},
        "both model2 2": {"model2", "p2_train", "vocab"},
        "both model2 3": {"model2", "p2_train", "vocab", "featurize"},
        "up cache": {"cache", "featurize", "clean", "vocab", "ingest", "raw1", "raw2"},
        "down cache": PIPELINE_1 - {"raw1", "raw2", "ingest", "clean", "vocab"},
        "up cache 1": {"cache", "featurize"},
        "down cache 1": {"cache", "featurize"},
        "up evaluate": UPSTREAM_OF_MODEL | {"evaluate"},
        "down evaluate": {"evaluate", "metrics", "summarize", "report"},
        "up report": {"report", "summarize", "metrics", "evaluate", "model", "feats"},
        "down raw2 + p2_train": (PIPELINE_1 - {"raw1", "vocab"}) | {"p2_train", "model2"},
        "up metrics, stop at feats": {"metrics", "evaluate", "model", "train"},
        "up metrics, stop at Trainer": {"metrics", "evaluate", "model", "train", "feats"}
        | {"featurize", "clean", "vocab", "cache", "ingest", "raw1", "raw2"},
    }


def test_dag_events_contexts_and_types(dag: Graph) -> None:
    s, ids = dag.store, dag.ids
    graph = s.lineage(artifact_ids=[ids["model"]], direction="upstream")
    assert dag.nodes(graph) == UPSTREAM_OF_MODEL
    check_events(s, graph)
    # cache is both input and output of featurize: both events are there.
    cache_events = sorted(
        e.type
        for e in graph.events
        if (e.artifact_id, e.execution_id) == (ids["cache"], ids["featurize"])
    )
    assert cache_events == [EType.INPUT, EType.OUTPUT]
    contexts = {c.name for c in graph.contexts}
    assert contexts == {"prep", "fit", "pipe2"}  # pipe2 holds vocab; pipe1 holds none of these
    in_answer = {a.id for a in graph.artifacts}
    expected_attributions = {
        (a.id, c.id)
        for c in s.get_contexts()
        for a in s.get_artifacts_by_context(c.id or 0)
        if a.id in in_answer
    }
    assert {(x.artifact_id, x.context_id) for x in graph.attributions} == expected_attributions
    assert {(x.execution_id, x.context_id) for x in graph.associations} == {
        (ids["ingest"], ids["ctx:prep"]),
        (ids["featurize"], ids["ctx:prep"]),
        (ids["train"], ids["ctx:fit"]),
    }
    assert graph.parent_contexts == []  # pipe1 is not among the contexts
    assert sorted(t.name for t in graph.artifact_types) == ["Dataset", "Model"]
    assert sorted(t.name for t in graph.execution_types) == ["Step", "Trainer"]
    assert sorted(t.name for t in graph.context_types) == ["Pipeline", "Stage"]
    assert graph.truncated is False
    # Nodes come hydrated.
    model = next(a for a in graph.artifacts if a.id == ids["model"])
    assert (model.name, model.type, model.type_id) == ("model", "Model", dag.types["Model"])

    report = s.lineage(artifact_ids=[ids["report"]], direction="upstream", max_hops=2)
    assert dag.nodes(report) == {"report", "summarize", "metrics"}
    assert {c.name for c in report.contexts} == {"fit", "pipe1"}
    assert {(p.child_id, p.parent_id) for p in report.parent_contexts} == {
        (ids["ctx:fit"], ids["ctx:pipe1"])
    }
    assert [t.name for t in report.artifact_types] == ["Dataset"]
    assert [t.name for t in report.execution_types] == ["Step"]
    assert sorted(t.name for t in report.context_types) == ["Pipeline", "Stage"]

    alone = s.lineage(artifact_ids=[ids["raw2"]], max_hops=0)
    assert dag.nodes(alone) == {"raw2"}
    assert (alone.events, alone.executions, alone.associations) == ([], [], [])
    assert [c.name for c in alone.contexts] == ["prep"]  # put_execution of ingest put it there
    assert [(x.artifact_id, x.context_id) for x in alone.attributions] == [
        (ids["raw2"], ids["ctx:prep"])
    ]
    assert [t.name for t in alone.artifact_types] == ["Dataset"]
    assert [t.name for t in alone.context_types] == ["Stage"]
    assert alone.execution_types == []


def test_get_lineage_subgraph(dag: Graph) -> None:
    s = dag.store
    Options = m.LineageSubgraphQueryOptions

    def nodes(options: m.LineageSubgraphQueryOptions, mask: list[str] | None = None) -> set[str]:
        graph = s.get_lineage_subgraph(options, mask)
        check_events(s, graph)
        return dag.nodes(graph)

    up2 = Options(
        starting_artifacts=m.StartingNodes(filter_query="name = 'model'"),
        direction=Direction.UPSTREAM,
        max_num_hops=2,
    )
    assert nodes(up2) == {"model", "train", "feats"}
    down = Options(
        starting_executions=m.StartingNodes(filter_query="name = 'evaluate'"),
        direction=Direction.DOWNSTREAM,
    )
    assert nodes(down) == {"evaluate", "metrics", "summarize", "report"}
    # Unset direction is both ways (MLMD's default), and so is DIRECTION_UNSPECIFIED.
    for direction in (None, Direction.DIRECTION_UNSPECIFIED, Direction.BIDIRECTIONAL):
        options = Options(
            starting_artifacts=m.StartingNodes(filter_query="name = 'model2'"), max_num_hops=3
        )
        if direction is not None:
            options.direction = direction
        assert nodes(options) == {"model2", "p2_train", "vocab", "featurize"}
    ending = Options(
        starting_artifacts=m.StartingNodes(filter_query="name = 'report'"),
        direction=Direction.UPSTREAM,
        ending_artifacts=m.EndingNodes(filter_query="name = 'model'"),
        ending_executions=m.EndingNodes(filter_query="name = 'featurize'"),
    )
    within = {"report", "summarize", "metrics", "evaluate", "feats"}
    assert nodes(ending) == within
    # Each EndingNodes decides for its own kind.
    ending.ending_artifacts = m.EndingNodes(
        filter_query="name = 'model'", include_ending_nodes=True
    )
    assert nodes(ending) == within | {"model"}
    ending.ending_executions = m.EndingNodes(
        filter_query="name = 'featurize'", include_ending_nodes=True
    )
    assert nodes(ending) == within | {"model", "featurize"}
    ending.ending_artifacts = m.EndingNodes(filter_query="name = 'model'")
    assert nodes(ending) == within | {"featurize"}
    limited = Options(
        starting_artifacts=m.StartingNodes(filter_query="name = 'report'"),
        direction=Direction.UPSTREAM,
        max_node_size=3,
    )
    graph = s.get_lineage_subgraph(limited)
    assert (dag.nodes(graph), graph.truncated) == ({"report", "summarize", "metrics"}, True)

    nothing = s.get_lineage_subgraph(
        Options(starting_artifacts=m.StartingNodes(filter_query="name = 'nope'"))
    )
    assert nothing == m.LineageGraph()


def test_get_lineage_subgraph_field_mask(dag: Graph) -> None:
    s = dag.store
    options = m.LineageSubgraphQueryOptions(
        starting_artifacts=m.StartingNodes(filter_query="name = 'report'"),
        direction=Direction.UPSTREAM,
        max_num_hops=2,
    )
    full = s.get_lineage_subgraph(options)
    fields = [
        "artifact_types",
        "execution_types",
        "context_types",
        "artifacts",
        "executions",
        "contexts",
        "events",
        "attributions",
        "associations",
        "parent_contexts",
    ]
    for field in fields:
        assert getattr(full, field), f"{field} is empty in the full answer"
    assert s.get_lineage_subgraph(options, []) == full
    assert s.get_lineage_subgraph(options, None) == full
    for mask in (["artifacts"], ["events", "contexts"], ["artifact_types", "parent_contexts"]):
        graph = s.get_lineage_subgraph(options, mask)
        for field in fields:
            expected = getattr(full, field) if field in mask else []
            assert getattr(graph, field) == expected, (mask, field)
    with pytest.raises(InvalidArgumentError, match="artifact"):
        s.get_lineage_subgraph(options, ["artifact"])
    with pytest.raises(InvalidArgumentError):
        s.get_lineage_subgraph(options, ["artifacts", "artifacts.name"])
    _get_lineage_subgraph_bad_options(dag)


def _get_lineage_subgraph_bad_options(dag: Graph) -> None:
    s = dag.store
    Options = m.LineageSubgraphQueryOptions
    start = m.StartingNodes(filter_query="name = 'model'")
    for options in (
        Options(),
        Options(starting_artifacts=start, starting_executions=start),
        Options(starting_artifacts=m.StartingNodes(filter_query="")),
        Options(starting_executions=m.StartingNodes(filter_query="   ")),
        Options(starting_artifacts=start, max_num_hops=-1),
        Options(starting_artifacts=start, max_node_size=-2),
    ):
        with pytest.raises(InvalidArgumentError):
            s.get_lineage_subgraph(options)
    with pytest.raises(InvalidArgumentError):
        s.get_lineage_subgraph({"starting_artifacts": start})  # type: ignore[arg-type]


def _producers_and_consumers(dag: Graph) -> None:
    s, ids = dag.store, dag.ids

    def producers(name: str) -> list[str]:
        return [str(e.name) for e in s.get_artifact_producers(ids[name])]

    def consumers(name: str) -> list[str]:
        return [str(e.name) for e in s.get_artifact_consumers(ids[name])]

    assert producers("model") == ["train"]
    assert producers("cache") == ["featurize"]
    assert producers("metrics") == ["evaluate"]  # INTERNAL_OUTPUT
    assert producers("report") == ["summarize"]  # PENDING_OUTPUT
    assert producers("raw1") == []
    assert consumers("feats") == ["train", "evaluate"]  # oldest first
    assert consumers("vocab") == ["featurize", "p2_train"]
    assert consumers("raw2") == ["ingest"]  # DECLARED_INPUT
    assert consumers("cache") == ["featurize"]
    assert consumers("report") == []
    assert s.get_artifact_producers(999_999) == []
    assert s.get_artifact_consumers(999_999) == []
    # Full executions, not ids.
    [train] = s.get_artifact_producers(ids["model"])
    assert (train.type, train.last_known_state) == ("Trainer", m.ExecutionState.COMPLETE)


AWKWARD_TEXT = [
    'quote " and \\ backslash',
    "tab\tnew\nline",
    "ünïcødé ✓ 🚀",
    "\u2028\u2029",
    "[1,2]",
]


def test_contexts_and_links_of_an_answer_equal_what_is_read_directly(
    store: m.MetadataStore,
) -> None:
    """A shared input in many contexts, with names and external ids of every awkward kind: the
    answer carries each context (fields, properties) and link exactly as the store reads them
    (on SQLite they come packed in JSON arrays, see query/_subgraph.py)."""
    kind = store.put_context_type(m.ContextType(name="Run", properties={"n": m.PropertyType.INT}))
    data = store.put_artifact_type(m.ArtifactType(name="Data"))
    step = store.put_execution_type(m.ExecutionType(name="Step"))
    [source] = store.put_artifacts([m.Artifact(type_id=data, uri="/shared")])
    contexts = [
        m.Context(
            type_id=kind,
            name=f"{text} {i}",
            external_id=None if i % 2 else f"ext {text} {i}",
            properties={"n": i},
            custom_properties={"text": text} if i % 3 == 0 else {},
        )
        for i, text in enumerate(AWKWARD_TEXT * 8)
    ]
    context_ids = store.put_contexts(contexts)
    store.put_parent_contexts(
        [m.ParentContext(child_id=c, parent_id=context_ids[0]) for c in context_ids[1:5]]
    )
    final = None
    for context, context_id in zip(contexts, context_ids):
        context.id = context_id
        _, [_, final], _ = store.put_execution(
            m.Execution(type_id=step),
            [
                (m.Artifact(id=source), m.Event(type=EType.INPUT)),
                (m.Artifact(type_id=data), m.Event(type=EType.OUTPUT)),
            ],
            [context],
        )
    assert final is not None
    graph = store.lineage(artifact_ids=[final], direction="upstream")
    assert graph.contexts == store.get_contexts_by_id(sorted(context_ids))
    assert [c.id for c in graph.contexts] == sorted(context_ids)
    expected = sorted((a.id, c) for c in context_ids for a in store.get_artifacts_by_context(c))
    in_answer = {a.id for a in graph.artifacts}
    assert [(x.artifact_id, x.context_id) for x in graph.attributions] == [
        pair for pair in expected if pair[0] in in_answer
    ]
    assert len(graph.attributions) == len(context_ids) + 1  # the source in every context
    assert [(p.child_id, p.parent_id) for p in graph.parent_contexts] == [
        (c, context_ids[0]) for c in sorted(context_ids[1:5])
    ]


def test_context_dag(dag: Graph) -> None:
    s, ids = dag.store, dag.ids
    whole = s.get_context_dag(ids["ctx:pipe1"])
    assert dag.nodes(whole) == PIPELINE_1
    check_events(s, whole)
    assert {c.name for c in whole.contexts} == {"pipe1", "prep", "fit", "pipe2"}
    assert {(p.child_id, p.parent_id) for p in whole.parent_contexts} == {
        (ids["ctx:prep"], ids["ctx:pipe1"]),
        (ids["ctx:fit"], ids["ctx:pipe1"]),
    }
    # Only what is directly in pipe1: summarize, and what it read and wrote.
    direct = s.get_context_dag(ids["ctx:pipe1"], include_child_contexts=False)
    assert dag.nodes(direct) == {"summarize", "metrics", "report"}
    check_events(s, direct)
    assert len(direct.events) == 2
    prep = s.get_context_dag(ids["ctx:prep"])
    assert dag.nodes(prep) == {
        "raw1",
        "raw2",
        "ingest",
        "clean",
        "vocab",
        "cache",
        "featurize",
        "feats",
    }
    assert dag.nodes(s.get_context_dag(ids["ctx:pipe2"])) == {"vocab", "p2_train", "model2"}
    assert dag.nodes(s.get_context_dag(999_999)) == set()
    _producers_and_consumers(dag)


def test_compare_artifacts(store: m.MetadataStore) -> None:
    rows_type = store.put_artifact_type(
        m.ArtifactType(name="Table", properties={"rows": m.PropertyType.INT})
    )
    left, right = store.put_artifacts(
        [
            m.Artifact(
                type_id=rows_type,
                name="left",
                uri="/t/1",
                state=m.ArtifactState.LIVE,
                properties={"rows": 10},
                custom_properties={"note": "a", "only_left": 1, "num": 1, "flag": True},
            ),
            m.Artifact(
                type_id=rows_type,
                name="right",
                uri="/t/1",
                state=m.ArtifactState.PENDING,
                properties={"rows": 12},
                custom_properties={"note": "a", "only_right": "x", "num": 1.0, "flag": 1},
            ),
        ]
    )
    comparison = store.compare_artifacts(left, right)
    assert (comparison.left.id, comparison.right.id) == (left, right)
    rows = {row.field: (row.left, row.right, row.differs) for row in comparison.rows}
    assert [row.field for row in comparison.rows][:5] == [
        "type",
        "name",
        "uri",
        "state",
        "external_id",
    ]
    assert [row.field for row in comparison.rows][6:] == [
        "properties.rows",
        "custom_properties.flag",
        "custom_properties.note",
        "custom_properties.num",
        "custom_properties.only_left",
        "custom_properties.only_right",
    ]
    assert rows["type"] == ("Table", "Table", False)
    assert rows["name"] == ("left", "right", True)
    assert rows["uri"] == ("/t/1", "/t/1", False)
    assert rows["state"] == (m.ArtifactState.LIVE, m.ArtifactState.PENDING, True)
    assert rows["external_id"] == (None, None, False)
    assert rows["properties.rows"] == (10, 12, True)
    assert rows["custom_properties.note"] == ("a", "a", False)
    assert rows["custom_properties.num"] == (1, 1.0, True)  # int and float differ
    assert rows["custom_properties.flag"] == (True, 1, True)
    assert rows["custom_properties.only_left"] == (1, None, True)
    assert rows["custom_properties.only_right"] == (None, "x", True)
    differing = {row.field for row in comparison.differences} - {"create_time_since_epoch"}
    assert differing == {
        "name",
        "state",
        "properties.rows",
        "custom_properties.flag",
        "custom_properties.num",
        "custom_properties.only_left",
        "custom_properties.only_right",
    }
    text = str(comparison).splitlines()
    assert text[0].split() == ["field", "artifact", str(left), "|", "artifact", str(right)]
    marked = {line.split()[0] for line in text[1:] if line.split()[1].startswith("*")}
    assert marked - {"create_time_since_epoch"} == differing
    assert any("LIVE" in line and "PENDING" in line for line in text)
    same = store.compare_artifacts(left, left)
    assert same.differences == []
    with pytest.raises(NotFoundError):
        store.compare_artifacts(left, 999_999)
    with pytest.raises(NotFoundError):
        store.compare_artifacts(999_999, right)


# ----------------------------------------------------------------------- provenance and impact


def test_provenance_and_impact_of_a_1000_step_chain(store: m.MetadataStore) -> None:
    data = store.put_artifact_type(m.ArtifactType(name="Data"))
    step = store.put_execution_type(m.ExecutionType(name="Step"))
    n = 1000
    edges = []
    for i in range(n):
        edges.append((i, i, m.Event(type=EType.INPUT)))
        edges.append((i, i + 1, m.Event(type=EType.OUTPUT)))
    execution_ids, artifact_ids, _ = store.put_lineage_subgraph(
        [m.Execution(type_id=step, name=f"x{i}") for i in range(n)],
        [m.Artifact(type_id=data, name=f"a{i}") for i in range(n + 1)],
        [],
        edges,
    )
    provenance = store.get_provenance(artifact_ids[-1])
    assert sorted(a.id for a in provenance.artifacts) == sorted(artifact_ids)
    assert sorted(e.id for e in provenance.executions) == sorted(execution_ids)
    assert len(provenance.events) == 2 * n
    assert provenance.truncated is False
    impact = store.get_impact(artifact_ids[0])
    assert sorted(a.id for a in impact.artifacts) == sorted(artifact_ids)
    assert sorted(e.id for e in impact.executions) == sorted(execution_ids)
    assert len(impact.events) == 2 * n
    # From the middle: only one side.
    middle = store.get_provenance(artifact_ids[500])
    assert sorted(a.id for a in middle.artifacts) == sorted(artifact_ids[:501])
    assert sorted(e.id for e in middle.executions) == sorted(execution_ids[:500])
    assert {a.id for a in store.get_impact(artifact_ids[998]).artifacts} == set(artifact_ids[998:])
    # At a depth.
    near = store.get_provenance(artifact_ids[-1], max_hops=10)
    assert sorted(a.id for a in near.artifacts) == sorted(artifact_ids[-6:])
    assert sorted(e.id for e in near.executions) == sorted(execution_ids[-5:])
    deep = store.get_impact(artifact_ids[0], max_hops=1999)
    assert len(deep.artifacts) == n and len(deep.executions) == n
    assert store.get_impact(artifact_ids[-1]).executions == []


# ------------------------------------------------------------------ a random DAG against BFS


def random_dag(store: m.MetadataStore, seed: int) -> tuple[list[int], list[int]]:
    """About 300 nodes; executions read 0-3 earlier artifacts and write 1-2 (new, or sometimes
    one of their inputs or an older artifact), with every event type."""
    rng = random.Random(seed)
    data = store.put_artifact_type(
        m.ArtifactType(name="Data", properties={"k": m.PropertyType.INT})
    )
    step = store.put_execution_type(
        m.ExecutionType(name="Step", properties={"k": m.PropertyType.INT})
    )
    artifacts = [m.Artifact(type_id=data, name=f"a{i}", properties={"k": i % 7}) for i in range(30)]
    executions = []
    edges: list[tuple[int, int, m.Event]] = []
    inputs, outputs = sorted(INPUT_EVENT_TYPES), sorted(OUTPUT_EVENT_TYPES)
    for j in range(130):
        executions.append(m.Execution(type_id=step, name=f"x{j}", properties={"k": j % 7}))
        read = rng.sample(range(len(artifacts)), rng.randint(0, 3))
        for a in read:
            edges.append((j, a, m.Event(type=rng.choice(inputs))))
        for _ in range(rng.randint(1, 2)):
            roll = rng.random()
            if roll < 0.1 and read:
                a = rng.choice(read)
            elif roll < 0.2:
                a = rng.randrange(len(artifacts))
            else:
                artifacts.append(
                    m.Artifact(
                        type_id=data, name=f"a{len(artifacts)}", properties={"k": rng.randrange(7)}
                    )
                )
                a = len(artifacts) - 1
            event_type = rng.choice(outputs)
            if (j, a, event_type) not in {(x, y, e.type) for x, y, e in edges}:
                edges.append((j, a, m.Event(type=event_type)))
    execution_ids, artifact_ids, _ = store.put_lineage_subgraph(executions, artifacts, [], edges)
    return artifact_ids, execution_ids


def bfs(
    events: list[m.Event],
    start: set[tuple[str, int]],
    direction: str,
    max_hops: int | None,
    stop: set[tuple[str, int]] = frozenset(),  # type: ignore[assignment]
    include_stop: bool = False,
) -> dict[tuple[str, int], int]:
    """Distances of the nodes a lineage walk reaches, from the events alone."""
    onward: dict[tuple[str, int], list[tuple[str, int]]] = collections.defaultdict(list)
    for e in events:
        a, x = ("a", int(e.artifact_id or 0)), ("e", int(e.execution_id or 0))
        produced, read = e.type in OUTPUT_EVENT_TYPES, e.type in INPUT_EVENT_TYPES
        if (
            direction == "both"
            or (direction == "upstream" and produced)
            or (direction == "downstream" and read)
        ):
            onward[a].append(x)
        if (
            direction == "both"
            or (direction == "upstream" and read)
            or (direction == "downstream" and produced)
        ):
            onward[x].append(a)
    distance = dict.fromkeys(start, 0)
    queue = collections.deque(start)
    while queue:
        node = queue.popleft()
        if node in stop or (max_hops is not None and distance[node] >= max_hops):
            continue
        for nxt in onward[node]:
            if nxt not in distance:
                distance[nxt] = distance[node] + 1
                queue.append(nxt)
    return {n: d for n, d in distance.items() if include_stop or n not in stop}


@pytest.mark.store_semantics
def test_random_dag_against_breadth_first_search(store: m.MetadataStore) -> None:
    artifact_ids, execution_ids = random_dag(store, seed=20240611)
    events = store.get_events_by_artifact_ids(artifact_ids)
    assert len(events) > 300
    assert sorted(
        (e.artifact_id, e.execution_id, e.type)
        for e in store.get_events_by_execution_ids(execution_ids)
    ) == sorted((e.artifact_id, e.execution_id, e.type) for e in events)
    k_of = {a.id: a.properties["k"] for a in store.get_artifacts_by_id(artifact_ids)}
    k_of_execution = {x.id: x.properties["k"] for x in store.get_executions_by_id(execution_ids)}
    rng = random.Random(5)
    starts = [
        {("a", rng.choice(artifact_ids[:30]))},
        {("e", rng.choice(execution_ids))},
        {("a", a) for a in rng.sample(artifact_ids, 3)} | {("e", rng.choice(execution_ids))},
    ]
    stop = {("a", a) for a, k in k_of.items() if k == 0}
    stop |= {("e", x) for x, k in k_of_execution.items() if k == 0}
    problems = []
    checked = 0

    def compare(label: str, graph: m.LineageGraph, expected: dict[tuple[str, int], int]) -> None:
        nonlocal checked
        checked += 1
        got = {("a", int(a.id or 0)) for a in graph.artifacts} | {
            ("e", int(x.id or 0)) for x in graph.executions
        }
        if got != set(expected):
            problems.append(
                f"{label}: extra {sorted(got - set(expected))[:5]}, "
                f"missing {sorted(set(expected) - got)[:5]}"
            )
        check_events(store, graph)

    for number, start in enumerate(starts):
        ids = {
            "artifact_ids": [i for kind, i in start if kind == "a"] or None,
            "execution_ids": [i for kind, i in start if kind == "e"] or None,
        }
        for direction in ("upstream", "downstream", "both"):
            for hops in (None, 0, 1, 2, 5):
                label = f"start #{number} {direction} hops={hops}"
                expected = bfs(events, start, direction, hops)
                graph = store.lineage(direction=direction, max_hops=hops, **ids)
                compare(label, graph, expected)
                if graph.truncated:
                    problems.append(f"{label}: truncated without max_nodes")
                for include in (False, True):
                    stopped = store.lineage(
                        direction=direction,
                        max_hops=hops,
                        stop_at_artifacts="properties.k = 0",
                        stop_at_executions="properties.k.int_value = 0",
                        include_stop_nodes=include,
                        **ids,
                    )
                    compare(
                        f"{label} stop include={include}",
                        stopped,
                        bfs(events, start, direction, hops, stop, include),
                    )
                if len(expected) > 2:
                    limit = len(expected) // 2
                    cut = store.lineage(direction=direction, max_hops=hops, max_nodes=limit, **ids)
                    got = {("a", int(a.id or 0)) for a in cut.artifacts} | {
                        ("e", int(x.id or 0)) for x in cut.executions
                    }
                    farthest_kept = sorted(expected.values())[limit - 1]
                    if not (
                        cut.truncated
                        and len(got) == limit
                        and got <= set(expected)
                        and all(expected[n] <= farthest_kept for n in got)
                        and all(n in got for n, d in expected.items() if d < farthest_kept)
                    ):
                        problems.append(f"{label} max_nodes={limit}: not the nearest {limit}")
                    check_events(store, cut)
    # Starting nodes given by filter: every artifact with k = 3, downstream, 2 hops.
    start = {("a", a) for a, k in k_of.items() if k == 3}
    compare(
        "filter start",
        store.lineage(artifacts_filter="properties.k = 3", direction="downstream", max_hops=2),
        bfs(events, start, "downstream", 2),
    )
    assert not problems, "\n".join(problems)
    assert checked == len(starts) * 3 * 5 * 3 + 1


def test_ids_and_filters_together_start_from_all_of_them(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="Blob"))
    et = store.put_execution_type(m.ExecutionType(name="Copy"))
    first, second = store.put_artifacts(
        [m.Artifact(type_id=at, name="first"), m.Artifact(type_id=at, name="second")]
    )
    made = []
    for source in (first, second):
        _, (_, out), _ = store.put_execution(
            m.Execution(type_id=et),
            [
                (
                    m.Artifact(
                        id=source, type_id=at, name="first" if source == first else "second"
                    ),
                    m.Event(type=m.EventType.INPUT),
                ),
                (m.Artifact(type_id=at), m.Event(type=m.EventType.OUTPUT)),
            ],
            [],
        )
        made.append(out)
    graph = store.lineage(
        artifact_ids=[first], artifacts_filter="name = 'second'", direction="downstream"
    )
    assert {a.id for a in graph.artifacts} == {first, second, *made}


def test_a_truncated_answer_beyond_one_statement_honours_the_field_mask(
    store: m.MetadataStore,
) -> None:
    """Past 1,024 nodes a truncated answer is read by id lists in chunks; every mask works
    there as in a smaller answer, parent links among its contexts included."""
    d = store.put_artifact_type(m.ArtifactType(name="D"))
    e = store.put_execution_type(m.ExecutionType(name="S"))
    c = store.put_context_type(m.ContextType(name="Run"))
    steps = 1200
    artifacts = [m.Artifact(type_id=d, uri=f"/{k}") for k in range(steps + 1)]
    executions = [m.Execution(type_id=e) for _ in range(steps)]
    edges = [(k, k, m.Event(type=m.EventType.INPUT)) for k in range(steps)]
    edges += [(k, k + 1, m.Event(type=m.EventType.OUTPUT)) for k in range(steps)]
    _, artifact_ids, [run] = store.put_lineage_subgraph(
        executions, artifacts, [m.Context(type_id=c, name="run")], edges
    )
    [parent] = store.put_contexts([m.Context(type_id=c, name="all")])
    [child] = store.put_contexts([m.Context(type_id=c, name="part")])
    store.put_parent_contexts([m.ParentContext(child_id=run, parent_id=parent)])
    store.put_parent_contexts([m.ParentContext(child_id=child, parent_id=run)])
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=artifact_ids[-1], context_id=parent)], []
    )
    options = m.LineageSubgraphQueryOptions(
        starting_artifacts=m.StartingNodes(filter_query=f"id = {artifact_ids[-1]}"),
        direction=Direction.UPSTREAM,
        max_node_size=2200,
    )
    full = store.get_lineage_subgraph(options)
    assert full.truncated and len(full.artifacts) + len(full.executions) == 2200
    assert len(full.artifacts) > 1024  # beyond one statement's id list
    assert sorted(x.name for x in full.contexts) == ["all", "run"]
    # "part" is not in the answer: only the link between the answer's two contexts is.
    assert full.parent_contexts == [m.ParentContext(child_id=run, parent_id=parent)]
    assert len(full.events) == 2 * len(full.executions) - 1
    assert len(full.attributions) == len(full.artifacts) + 1
    for mask in (["artifacts"], ["events"], ["contexts", "parent_contexts"], ["artifact_types"]):
        masked = store.get_lineage_subgraph(options, field_mask_paths=mask)
        for field in m.LineageGraph.__dataclass_fields__:
            if field == "truncated":
                continue
            expected = getattr(full, field) if field in mask else []
            assert getattr(masked, field) == expected, (mask, field)
