"""The pure models behind the graph, compare and metric pages: built from nodes, no server."""

from __future__ import annotations

import math
from typing import Any

from mltrail import Artifact, Event, EventType, Execution, LineageGraph
from mltrail.server.ui._compare import compare_nodes
from mltrail.server.ui._lineage import lineage_model, path_text
from mltrail.server.ui._series import join_series, metrics_values, summary

IN, OUT = EventType.INPUT, EventType.OUTPUT


def art(i: int, kind: str = "Data", **fields: Any) -> Artifact:
    return Artifact(id=i, type=kind, **fields)


def run(i: int, kind: str = "train", **fields: Any) -> Execution:
    return Execution(id=i, type=kind, **fields)


def ev(artifact: int, execution: int, kind: EventType, *path: int | str) -> Event:
    return Event(artifact_id=artifact, execution_id=execution, type=kind, path=list(path))


def test_nodes_and_edges_follow_the_data() -> None:
    graph = LineageGraph(
        artifacts=[
            art(1, uri="s3://bucket/raw/"),
            art(2, name="features"),
            art(3, "Metrics", properties={"metrics_name": "scores"}),
            art(4, "Model"),
        ],
        executions=[run(7, "prepare", last_known_state="COMPLETE"), run(8, name="fit")],
        events=[
            ev(1, 7, IN, "raw"),
            ev(2, 7, OUT, "features", 0),
            ev(2, 7, OUT, "again"),  # a second event between the same nodes: one edge
            ev(2, 8, IN),
            ev(3, 8, OUT),
            ev(4, 8, EventType.UNKNOWN),  # no direction: not drawn
            ev(99, 8, OUT),  # an artifact outside the graph
        ],
    )
    model = lineage_model(graph, focus="a2")
    labels = {n["key"]: n["label"] for n in model["nodes"]}
    assert labels == {
        "a1": "raw",
        "a2": "features",
        "a3": "scores (Metrics)",
        "a4": "Model #4",
        "x7": "prepare #7",
        "x8": "fit",
    }
    edges = {(e["source"], e["target"]): (e["type"], e["path"]) for e in model["edges"]}
    assert edges == {
        ("a1", "x7"): ("INPUT", "raw"),
        ("x7", "a2"): ("OUTPUT", "features[0]"),
        ("a2", "x8"): ("INPUT", ""),
        ("x8", "a3"): ("OUTPUT", ""),
    }
    assert model["focus"] == "a2" and model["groups"] == []
    assert model["counts"] == {"artifacts": 4, "executions": 2, "edges": 4}
    state = {n["key"]: n["state"] for n in model["nodes"]}
    assert state["x7"] == "COMPLETE" and state["x8"] is None
    assert lineage_model(graph, focus="a999")["focus"] is None


def test_path_text() -> None:
    assert path_text(["examples", 0, "x"]) == "examples[0]/x"
    assert path_text([3]) == "[3]" and path_text([]) == ""


def repeated_runs(count: int) -> LineageGraph:
    """``count`` runs of train on dataset 1 and environment 2, each writing a model and metrics
    (10 + i, 20 + i) and the same shared series 3; one more train reads dataset 4 instead; an
    evaluate reads the first model."""
    artifacts = [art(1), art(2, "Environment"), art(3, "StepMetrics"), art(4)]
    executions, events = [], []
    for i in range(count):
        artifacts += [art(10 + i, "Model"), art(20 + i, "Metrics")]
        executions.append(run(100 + i))
        events += [ev(1, 100 + i, IN), ev(2, 100 + i, IN)]
        events += [ev(10 + i, 100 + i, OUT), ev(20 + i, 100 + i, OUT), ev(3, 100 + i, OUT)]
    artifacts += [art(30, "Model"), art(31, "Metrics"), art(32, "Report")]
    executions += [run(200), run(300, "evaluate")]
    events += [ev(4, 200, IN), ev(2, 200, IN), ev(30, 200, OUT), ev(31, 200, OUT)]
    events += [ev(3, 200, OUT)]  # the shared series is also written outside the group
    events += [ev(10, 300, IN), ev(32, 300, OUT)]
    return LineageGraph(artifacts=artifacts, executions=executions, events=events)


def test_repeated_runs_collapse_into_a_group() -> None:
    model = lineage_model(repeated_runs(4))
    [group] = model["groups"]
    assert group["label"] == "train \u00d74" and group["count"] == 4
    assert group["executions"] == [100, 101, 102, 103]
    assert group["inputs"] == ["a1", "a2"]
    # Its own outputs: every model and metrics of its runs (the first model is read by the
    # evaluate outside the group: it stays a member, drawn as the group's edge). The series
    # another run writes too is not its own.
    own = [f"a{10 + i}" for i in range(4)] + [f"a{20 + i}" for i in range(4)]
    assert group["members"] == [f"x{100 + i}" for i in range(4)] + sorted(
        own, key=lambda k: int(k[1:])
    )
    grouped = {n["key"] for n in model["nodes"] if n["group"] == "g0"}
    assert grouped == set(group["members"])
    assert "x200" not in grouped and "a3" not in grouped and "a30" not in grouped


def test_groups_need_enough_runs_and_spare_the_focus() -> None:
    assert lineage_model(repeated_runs(2))["groups"] == []  # fewer than 3
    assert len(lineage_model(repeated_runs(2), min_group=2)["groups"]) == 1
    assert lineage_model(repeated_runs(5), min_group=0)["groups"] == []
    assert lineage_model(repeated_runs(5), min_group=1)["groups"] == []
    # Two runs are left beside the starting one: under the threshold.
    assert lineage_model(repeated_runs(3), focus="x101")["groups"] == []
    [group] = lineage_model(repeated_runs(4), focus="a12")["groups"]
    assert "x102" in group["members"] and "a12" not in group["members"]


def test_runs_differing_in_inputs_or_output_types_stay_apart() -> None:
    graph = repeated_runs(3)
    graph.artifacts.append(art(40, "Plot"))
    graph.events.append(ev(40, 102, OUT))  # run 102 also wrote a plot: other output types
    assert lineage_model(graph)["groups"] == []
    graph = repeated_runs(4)
    graph.events.append(ev(4, 103, IN))  # run 103 also read dataset 4
    [group] = lineage_model(graph)["groups"]
    assert group["executions"] == [100, 101, 102]


def test_outputs_that_members_read_are_not_folded() -> None:
    graph = repeated_runs(3)
    graph.events.append(ev(10, 101, EventType.DECLARED_INPUT))  # run 101 read run 100's model
    assert lineage_model(graph)["groups"] == []  # run 101's inputs differ now: two left
    graph = repeated_runs(3)
    graph.events += [ev(1, 100 + i, OUT) for i in range(3)]  # each run rewrote its input
    [group] = lineage_model(graph)["groups"]
    assert "a1" not in group["members"]


def series_artifact(i: int, name: str, steps: list[int], **values: list[Any]) -> Artifact:
    return art(
        i,
        "StepMetrics",
        properties={"metrics_name": name, "series": {"steps": steps, "values": values}},
    )


def test_step_series_join_in_step_order_with_gaps() -> None:
    later = series_artifact(6, "loss", [3, 4], loss=[0.3, None], acc=[0.9, 0.95])
    first = series_artifact(5, "loss", [0, 1, 2], loss=[1.0, math.nan, 0.5])
    other = series_artifact(7, "lr", [0], lr=[0.1])
    broken = art(8, "StepMetrics", properties={"series": {"steps": "many"}})
    [loss, lr] = join_series([later, other, first, broken])
    assert loss["name"] == "loss" and loss["artifacts"] == [5, 6]
    assert loss["steps"] == [0, 1, 2, 3, 4]
    assert loss["values"] == {
        "acc": [None, None, None, 0.9, 0.95],
        "loss": [1.0, None, 0.5, 0.3, None],
    }
    assert lr == {"name": "lr", "artifacts": [7], "steps": [0], "values": {"lr": [0.1]}}
    rows = {row["key"]: row for row in summary(loss)}
    assert rows["loss"] == {
        "key": "loss",
        "count": 3,
        "gaps": 2,
        "last_step": 3,
        "last": 0.3,
        "min": 0.3,
        "max": 1.0,
    }
    assert rows["acc"]["count"] == 2 and rows["acc"]["last_step"] == 4


def test_series_values_that_are_not_numbers_are_gaps() -> None:
    odd = series_artifact(1, "s", [0, 1, 2, 3], v=["1", True, math.inf, 2])
    short = series_artifact(2, "t", [0, 1], v=[5])
    [s, t] = join_series([odd, short])
    assert s["values"]["v"] == [None, None, None, 2]
    assert t["values"]["v"] == [5, None]


def test_metrics_values() -> None:
    found = metrics_values(
        [
            art(9, "Metrics", properties={"metrics_name": "eval"}, custom_properties={"b": 2}),
            art(4, "Metrics", custom_properties={"a": 1}),
            art(5, "Model"),
        ]
    )
    assert found == [
        {"name": "Metrics #4", "artifact": 4, "values": {"a": 1}},
        {"name": "eval", "artifact": 9, "values": {"b": 2}},
    ]


def test_artifacts_side_by_side() -> None:
    left = art(1, uri="a.csv", properties={"rows": 1}, custom_properties={"note": "x"})
    right = art(2, uri="a.csv", properties={"rows": 1.0, "cols": 3})
    third = art(3, uri="b.csv", properties={"rows": 1})
    model = compare_nodes("artifact", [left, right, third])
    assert [c["id"] for c in model["columns"]] == [1, 2, 3]
    rows = {(s["title"], r["field"]): r for s in model["sections"] for r in s["rows"]}
    assert rows[("Fields", "uri")]["differs"] and rows[("Fields", "uri")]["values"][2] == "b.csv"
    assert not rows[("Fields", "type")]["differs"]
    assert rows[("Properties", "rows")]["differs"]  # 1 and 1.0: another type
    assert rows[("Properties", "cols")]["values"] == [None, 3, None]
    assert rows[("Custom properties", "note")]["values"] == ["x", None, None]
    assert rows[("Fields", "created")]["format"] == "time"
    assert model["differences"] == sum(1 for r in rows.values() if r["differs"])
    assert model["charts"] == []
    same = compare_nodes("artifact", [art(1, uri="a"), art(2, uri="a")])
    assert same["differences"] == 0
    assert [s["title"] for s in same["sections"]] == ["Fields"]  # empty sections are left out


def test_step_metrics_artifacts_side_by_side_are_charted() -> None:
    model = compare_nodes(
        "artifact",
        [
            series_artifact(1, "loss", [0, 1], loss=[2, 1]),
            series_artifact(2, "loss", [0], loss=[3]),
        ],
    )
    [chart] = model["charts"]
    assert chart["title"] == "loss"
    assert [line["values"] for line in chart["lines"]] == [[2, 1], [3]]


def test_executions_side_by_side() -> None:
    first = run(1, custom_properties={"lr": 0.1, "epochs": 3, "mltrail.fingerprint": "f1"})
    second = run(2, custom_properties={"lr": 0.2, "epochs": 3, "mltrail.fingerprint": "f2"})
    artifacts = {
        5: art(5, uri="data/train.csv"),
        6: art(6, "Model", uri="model-1.json"),
        7: art(7, "Model", uri="model-2.json"),
        8: art(8, "Metrics", properties={"metrics_name": "m"}, custom_properties={"acc": 0.5}),
        9: art(9, "Metrics", properties={"metrics_name": "m"}, custom_properties={"acc": 0.7}),
        10: series_artifact(10, "loss", [0, 1], loss=[1.0, 0.5]),
        11: series_artifact(11, "loss", [0, 1, 2], loss=[0.9, None, 0.2]),
    }
    events = [
        ev(5, 1, IN, "train.csv"),
        ev(5, 2, IN, "train.csv"),
        ev(6, 1, OUT, "model-1.json"),
        ev(7, 2, OUT, "model-2.json"),
        ev(8, 1, OUT, "metrics"),
        ev(9, 2, OUT, "metrics"),
        ev(10, 1, OUT, "loss"),
        ev(11, 2, OUT, "loss"),
    ]
    model = compare_nodes("execution", [first, second], events, artifacts)
    sections = {s["title"]: {r["field"]: r for r in s["rows"]} for s in model["sections"]}
    assert list(sections) == [
        "Parameters",
        "Metrics",
        "Inputs",
        "Outputs",
        "Fields",
        "Custom properties",  # no Properties: none has any
    ]
    assert (
        sections["Parameters"]["lr"]["differs"] and not sections["Parameters"]["epochs"]["differs"]
    )
    assert set(sections["Custom properties"]) == {"mltrail.fingerprint"}
    train = sections["Inputs"]["train.csv"]
    assert not train["differs"] and train["values"][0][0]["label"] == "train.csv"
    # Two models written under different paths share one row: one each.
    model_row = sections["Outputs"]["model-1.json, model-2.json"]
    assert [cell[0]["id"] for cell in model_row["values"]] == [6, 7] and model_row["differs"]
    assert sections["Metrics"]["m.acc"]["values"] == [0.5, 0.7]
    [chart] = model["charts"]
    assert chart["title"] == "loss"
    assert [line["label"] for line in chart["lines"]] == ["train #1", "train #2"]
    assert chart["lines"][1] == {
        "label": "train #2",
        "steps": [0, 1, 2],
        "values": [0.9, None, 0.2],
    }
