"""``mltrail.compat.cmfquery.CmfQuery``: CMF's questions, asked of what ``Cmf`` recorded, with
CMF's answers (DataFrames with CMF's columns, lists, executions)."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tracking_helpers import write

import mltrail as m
from mltrail.compat.cmf import Cmf
from mltrail.compat.cmfquery import CmfQuery
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

EXECUTION_COLUMNS = {
    "id",
    "name",
    "Context_Type",
    "Context_ID",
    "Execution",
    "Execution_type_name",
    "Execution_uuid",
    "Git_Repo",
    "Git_Start_Commit",
    "Git_End_Commit",
    "Pipeline_Type",
    "Pipeline_id",
}
ARTIFACT_COLUMNS = {
    "id",
    "type",
    "uri",
    "name",
    "create_time_since_epoch",
    "last_update_time_since_epoch",
}


def record_pipeline(cmf: Cmf, project: Path) -> dict[str, Any]:
    """CMF's get-started shape: Prepare → Featurize → Train → Evaluate."""
    write(project / "data.xml", "<posts/>")
    out: dict[str, Any] = {}
    cmf.create_context("Prepare")
    out["prepare"] = cmf.create_execution("Prepare", {"split": 0.2, "seed": 7})
    out["data"] = cmf.log_dataset("data.xml", "input", {"origin": "web"})
    write(project / "parsed" / "train.tsv", "t\n")
    write(project / "parsed" / "test.tsv", "s\n")
    out["train_tsv"] = cmf.log_dataset("parsed/train.tsv", "output")
    out["test_tsv"] = cmf.log_dataset("parsed/test.tsv", "output")
    cmf.create_context("Featurize")
    out["featurize"] = cmf.create_execution("Featurize-execution", {"ngrams": 2})
    cmf.log_dataset("parsed/train.tsv", "input")
    write(project / "features" / "train.json", "[1]")
    out["features"] = cmf.log_dataset("features/train.json", "output")
    cmf.create_context("Train")
    out["train"] = cmf.create_execution("Train-execution", {"n_est": 100})
    cmf.log_dataset("features/train.json", "input")
    for step, loss in enumerate((0.9, 0.5, 0.25)):
        cmf.log_metric("training_metrics", {"loss": loss, "step": step})
    out["steps"] = cmf.commit_metrics("training_metrics")
    write(project / "model.pkl", b"weights")
    out["model"] = cmf.log_model("model.pkl", "output", model_framework="SKlearn")
    cmf.create_context("Evaluate")
    out["evaluate"] = cmf.create_execution("Evaluate-execution")
    cmf.log_model("model.pkl", "input")
    cmf.log_dataset("features/train.json", "input")
    out["metrics"] = cmf.log_execution_metrics("metrics", {"roc_auc": 0.9})
    cmf.finalize()
    return out


@pytest.fixture
def recorded(store: m.MetadataStore, project: Path) -> Iterator[tuple[CmfQuery, dict[str, Any]]]:
    with Cmf(store=store, pipeline_name="Test-env") as cmf:
        nodes = record_pipeline(cmf, project)
    with CmfQuery(store=store) as query:
        yield query, nodes


def name_of(query: CmfQuery, artifact: m.Artifact) -> str:
    [found] = [n for n in query.get_all_artifacts() if n.endswith(":" + artifact_hex(artifact))]
    return found


def artifact_hex(artifact: m.Artifact) -> str:
    return str(artifact.external_id).split(":", 1)[1]


def test_pipelines_stages_and_executions(recorded: tuple[CmfQuery, dict[str, Any]]) -> None:
    query, nodes = recorded
    assert query.get_pipeline_names() == ["Test-env"]
    pipeline_id = query.get_pipeline_id("Test-env")
    assert pipeline_id > 0
    assert query.get_pipeline_id("nope") == -1
    assert query.get_pipeline_stages("Test-env") == [
        "Test-env/Prepare",
        "Test-env/Featurize",
        "Test-env/Train",
        "Test-env/Evaluate",
    ]
    assert query.get_pipeline_stages("nope") == []
    [train] = query.get_all_exe_in_stage("Test-env/Train")
    assert isinstance(train, m.Execution) and train.id == nodes["train"].id
    assert query.get_all_exe_in_stage("Test-env/None") == []

    frame = query.get_all_executions_in_stage("Test-env/Train")
    assert set(frame.columns) >= EXECUTION_COLUMNS
    assert list(frame.columns) == sorted(frame.columns)
    [row] = frame.to_dict("records")
    stage_id = query.store.get_context_by_type_and_name("Stage", "Test-env/Train").id  # type: ignore[union-attr]
    assert (row["id"], row["Context_Type"], row["Execution_type_name"]) == (
        train.id,
        "Test-env/Train",
        "Test-env/Train",
    )
    assert (row["Context_ID"], row["Pipeline_id"], row["Pipeline_Type"]) == (
        stage_id,
        pipeline_id,
        "Test-env",
    )
    assert row["Execution_uuid"] == train.external_id
    assert row["custom_properties_n_est"] == 100
    assert not any(c.startswith("custom_properties_mltrail") for c in frame.columns)

    whole = query.get_all_executions_in_pipeline("Test-env")
    assert list(whole["Context_Type"]) == [
        "Test-env/Prepare",
        "Test-env/Featurize",
        "Test-env/Train",
        "Test-env/Evaluate",
    ]
    ids = [nodes["prepare"].id, nodes["evaluate"].id]
    assert list(query.get_all_executions_by_ids_list(ids)["id"]) == ids
    assert list(query.get_executions_by_ids_list(ids)["id"]) == ids
    short = query.get_executions_with_execution_ids(ids)
    assert list(short.columns) == ["id", "Execution_type_name", "Execution_uuid"]
    assert list(short["Execution_type_name"]) == ["Test-env/Prepare", "Test-env/Evaluate"]
    assert list(query.get_executions_with_execution_ids([]).columns) == list(short.columns)
    assert query.get_all_executions_in_stage("Test-env/None").empty
    assert [e.id for e in query.get_all_executions_by_stage(stage_id or 0)] == [train.id]
    assert query.get_all_executions_by_stage(stage_id or 0, "other-uuid") == []
    assert [
        e.id for e in query.get_all_executions_by_stage(stage_id or 0, str(train.external_id))
    ] == [train.id]


def test_artifacts_as_cmf_shows_them(recorded: tuple[CmfQuery, dict[str, Any]]) -> None:
    query, nodes = recorded
    data = nodes["data"]
    names = query.get_all_artifacts()
    assert query.get_artifact_names() == names
    assert f"data.xml:{artifact_hex(data)}" in names
    assert len(names) == 8  # environment, 4 datasets, step metrics, model, metrics

    frame = query.get_artifact(f"data.xml:{artifact_hex(data)}")
    assert frame is not None and len(frame) == 1
    row = frame.iloc[0].to_dict()
    assert set(row) >= ARTIFACT_COLUMNS
    assert (row["id"], row["type"], row["uri"], row["Commit"]) == (
        data.id,
        "Dataset",
        artifact_hex(data),
        artifact_hex(data),
    )
    assert (row["path"], row["custom_properties_origin"]) == ("data.xml", "web")
    assert query.get_artifact("data.xml:0000") is None
    assert query.get_artifact(str(data.external_id)) is not None  # mltrail's identity works too

    model = query.get_artifact(name_of(query, nodes["model"]))
    assert model is not None
    assert (model.iloc[0]["type"], model.iloc[0]["model_framework"]) == ("Model", "SKlearn")
    steps = query.get_artifact(name_of(query, nodes["steps"]))
    assert steps is not None and steps.iloc[0]["type"] == "Step_Metrics"
    assert set(query.get_all_artifact_types()) == {
        "Environment",
        "Dataset",
        "Step_Metrics",
        "Model",
        "Metrics",
    }
    one = query.get_artifact_df(data, {"extra": 1})
    assert (one.iloc[0]["extra"], one.iloc[0]["name"]) == (1, f"data.xml:{artifact_hex(data)}")

    train = query.get_all_artifacts_for_execution(nodes["train"].id)
    assert {(r["type"], r["event"]) for r in train.to_dict("records")} == {
        ("Environment", "INPUT"),
        ("Dataset", "INPUT"),
        ("Step_Metrics", "OUTPUT"),
        ("Model", "OUTPUT"),
    }
    both = query.get_all_artifacts_for_executions([nodes["train"].id, nodes["evaluate"].id])
    assert len(both) == 5  # environment, features, steps, model, metrics: once each
    assert len(query.get_all_artifacts_by_context("Test-env")) == 8
    assert query.get_all_artifacts_by_context("nope").empty
    ids = [data.id, nodes["model"].id]
    assert list(query.get_all_artifacts_by_ids_list(ids)["id"]) == ids


def test_lineage_answers(recorded: tuple[CmfQuery, dict[str, Any]]) -> None:
    query, nodes = recorded

    def names(frame: Any) -> set[str]:
        return {str(n).split(":")[0] for n in frame["name"]} if len(frame) else set()

    data = name_of(query, nodes["data"])
    model = name_of(query, nodes["model"])
    features = name_of(query, nodes["features"])
    assert names(query.get_one_hop_child_artifacts(data)) == {
        "parsed/train.tsv",
        "parsed/test.tsv",
    }
    assert names(query.get_all_child_artifacts(data)) == {
        "parsed/train.tsv",
        "parsed/test.tsv",
        "features/train.json",
        "training_metrics",
        "model.pkl",
        "metrics",
    }
    assert names(query.get_one_hop_parent_artifacts(model)) == {
        "environment",
        "features/train.json",
    }
    assert names(query.get_all_parent_artifacts(model)) == {
        "environment",
        "features/train.json",
        "parsed/train.tsv",
        "data.xml",
    }
    # CMF's rule: the producers of the artifact's ancestors (not its own producer).
    parents = query.get_all_parent_executions(model)
    assert list(parents["id"]) == [nodes["prepare"].id, nodes["featurize"].id]
    assert set(parents.columns) >= EXECUTION_COLUMNS
    producer = query.find_producer_execution(model)
    assert producer is not None and producer.id == nodes["train"].id
    assert query.get_producer_execution(data) is None
    assert query.find_producer_execution("nothing:00") is None

    used = query.get_all_executions_for_artifact(features)
    assert list(used.columns) == sorted(
        ["Type", "execution_id", "execution_name", "execution_type_name", "stage", "pipeline"]
    )
    assert sorted(zip(used["Type"], used["stage"], used["pipeline"])) == [
        ("INPUT", "Test-env/Evaluate", "Test-env"),
        ("INPUT", "Test-env/Train", "Test-env"),
        ("OUTPUT", "Test-env/Featurize", "Test-env"),
    ]
    by_id = query.get_all_executions_for_artifact_id(nodes["features"].id)
    assert len(by_id) == 3
    assert query.get_all_executions_for_artifact("nothing:00").empty
    filtered = query.get_one_hop_parent_artifacts_with_id(nodes["model"].id)
    assert set(filtered["type"]) == {"Dataset"}  # Environment and Label left out, as in CMF

    train, evaluate = nodes["train"].id, nodes["evaluate"].id
    assert [e.id for e in query.get_one_hop_parent_executions([evaluate])] == [
        nodes["featurize"].id,
        train,
    ]
    pipeline_id = query.get_pipeline_id("Test-env")
    assert query.get_one_hop_parent_execution_ids(evaluate, pipeline_id) == [
        nodes["featurize"].id,
        train,
    ]
    assert query.get_one_hop_parent_execution_ids(evaluate, pipeline_id + 1000) == []
    nodes_out, links = query.get_all_parent_executions_by_id([evaluate])
    assert [n[0] for n in nodes_out] == [nodes["prepare"].id, nodes["featurize"].id, train]
    assert nodes_out[2][1:] == ["Test-env/Train", nodes["train"].external_id]
    assert sorted((link["source"], link["target"]) for link in links) == sorted(
        [
            (nodes["prepare"].id, nodes["featurize"].id),
            (nodes["featurize"].id, train),
            (nodes["featurize"].id, evaluate),
            (train, evaluate),
        ]
    )
    only_children = query.get_one_hop_child_artifacts(data, pipeline_id=pipeline_id + 1000)
    assert only_children.empty


def test_lineage_costs_the_same_calls_on_a_long_chain(
    store: m.MetadataStore, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No call per hop: the answers for a 3-step and a 30-step chain cost as many store calls."""

    def chain(cmf: Cmf, length: int, tag: str) -> str:
        cmf.create_context(f"chain-{tag}")
        previous = write(project / tag / "0.txt", f"{tag}0")
        cmf.create_execution(f"step-{tag}")
        first = cmf.log_dataset(str(previous), "input")
        for i in range(1, length + 1):
            cmf.create_execution(f"step-{tag}")
            cmf.log_dataset(str(previous), "input")
            previous = write(project / tag / f"{i}.txt", f"{tag}{i}")
            cmf.log_dataset(str(previous), "output")
        cmf.finalize()
        return str(first.external_id).split(":", 1)[1]

    with Cmf(store=store, pipeline_name="chains") as cmf:
        short, long = chain(cmf, 3, "a"), chain(cmf, 30, "b")
    calls: list[str] = []
    for method in (
        "lineage",
        "get_artifacts",
        "get_artifacts_by_id",
        "get_artifacts_by_external_ids",
        "get_events_by_artifact_ids",
        "get_executions_by_id",
        "get_contexts_by_type",
    ):
        original = getattr(store, method)

        def counted(*args: Any, _name: str = method, _fn: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _fn(*args, **kwargs)

        monkeypatch.setattr(store, method, counted)
    query = CmfQuery(store=store)
    answers = {}
    costs = []
    for tag, first in (("a", short), ("b", long)):
        calls.clear()
        children = query.get_all_child_artifacts(f"{tag}/0.txt:{first}")
        answers[tag] = len(children)
        costs.append(len(calls))
    assert answers == {"a": 3, "b": 30}
    assert costs[0] == costs[1] <= 4


def test_metrics_and_dataslices(store: m.MetadataStore, project: Path) -> None:
    files = [write(project / "raw" / f"{i}.txt", str(i)) for i in range(2)]
    with Cmf(store=store, pipeline_name="p") as cmf:
        cmf.create_context("s")
        cmf.create_execution("e")
        for loss in (3, 2, 1):
            cmf.log_metric("train", {"loss": loss})
        steps = cmf.commit_metrics("train")
        piece = cmf.create_dataslice("slice-a")
        for path in files:
            piece.add_data(str(path), {"label": path.stem})
        piece.commit()
    query = CmfQuery(store=store)
    series = query.get_metrics("train")
    assert series is not None
    assert series.index.name == "SequenceNumber"
    assert list(series.index) == [1, 2, 3] and list(series["loss"]) == [3, 2, 1]
    by_name = query.get_metrics(f"train:{artifact_hex(steps)}")
    assert by_name is not None and list(by_name["loss"]) == [3, 2, 1]
    assert query.get_metrics("nothing") is None
    members = query.read_dataslice("slice-a")
    assert members.index.name == "Path"
    assert list(members.index) == ["raw/0.txt", "raw/1.txt"]
    assert list(members["label"]) == ["0", "1"]
    assert all(str(h).startswith("sha256:") for h in members["hash"])
    with pytest.raises(NotFoundError, match="no data slice named 'other'"):
        query.read_dataslice("other")


def test_dumptojson_is_cmfs_export(recorded: tuple[CmfQuery, dict[str, Any]]) -> None:
    query, nodes = recorded
    document = json.loads(query.dumptojson("Test-env"))
    [pipeline] = document["Pipeline"]
    assert (pipeline["name"], pipeline["type"], pipeline["properties"]) == (
        "Test-env",
        "Parent_Context",
        {"Pipeline": "Test-env"},
    )
    assert [s["name"] for s in pipeline["stages"]] == [
        "Test-env/Prepare",
        "Test-env/Featurize",
        "Test-env/Train",
        "Test-env/Evaluate",
    ]
    stage = pipeline["stages"][2]
    assert (stage["type"], stage["properties"]) == (
        "Pipeline_Stage",
        {"Pipeline_Stage": "Test-env/Train"},
    )
    [execution] = stage["executions"]
    assert execution["type"] == "Train-execution" and execution["name"] == ""
    assert execution["properties"]["Execution_uuid"] == nodes["train"].external_id
    assert execution["properties"]["Context_Type"] == "Test-env/Train"
    assert execution["custom_properties"] == {"n_est": 100}
    kinds = {(e["type"], e["artifact"]["type"]) for e in execution["events"]}
    assert kinds == {(3, "Environment"), (3, "Dataset"), (4, "Step_Metrics"), (4, "Model")}
    model = next(e["artifact"] for e in execution["events"] if e["artifact"]["type"] == "Model")
    assert model["uri"] == artifact_hex(nodes["model"])
    assert model["name"] == f"model.pkl:{artifact_hex(nodes['model'])}"
    assert model["properties"]["model_framework"] == "SKlearn"
    assert isinstance(model["create_time_since_epoch"], int)

    one = json.loads(query.dumptojson("Test-env", str(nodes["featurize"].external_id)))
    assert [[x["id"] for x in s["executions"]] for s in one["Pipeline"][0]["stages"]] == [
        [nodes["featurize"].id]
    ]
    assert json.loads(query.dumptojson("nope")) == {"Pipeline": []}
    everything = json.loads(query.extract_to_json())
    assert [p["name"] for p in everything["Pipeline"]] == ["Test-env"]
    times = [int(e.last_update_time_since_epoch or 0) for e in query.store.get_executions()]
    since = json.loads(query.extract_to_json(min(times) - 1))
    assert sum(len(s["executions"]) for s in since["Pipeline"][0]["stages"]) == 4
    assert json.loads(query.extract_to_json(max(times) + 10**6)) == {"Pipeline": []}


def test_the_store_file_the_scripts_wrote(project: Path, store: m.MetadataStore) -> None:
    with Cmf(pipeline_name="Test-env") as cmf:  # the file ./mlmd, as in CMF
        record_pipeline(cmf, project)
    with CmfQuery() as query:  # filepath="mlmd"
        assert query.get_pipeline_stages("Test-env")[0] == "Test-env/Prepare"
        with pytest.raises(FailedPreconditionError, match="read-only"):
            query.store.put_contexts([m.Context(type="Pipeline", name="x")])
    with CmfQuery(str(project / "mlmd")) as query:
        assert len(query.get_all_artifacts()) == 8
    with pytest.raises(NotFoundError, match="no mltrail store at elsewhere"):
        CmfQuery("elsewhere")
    assert not (project / "elsewhere").exists()
    mlmd = project / "cmf-mlmd"
    with sqlite3.connect(mlmd) as conn:
        conn.execute("CREATE TABLE MLMDEnv (schema_version INTEGER PRIMARY KEY)")
    with pytest.raises(FailedPreconditionError, match="mltrail import mlmd"):
        CmfQuery(str(mlmd))
    with pytest.raises(InvalidArgumentError, match="is_server"):
        CmfQuery(is_server=True)
    assert CmfQuery(store=store).get_pipeline_names() == []


def test_without_pandas_the_tables_say_how_to_get_it(
    recorded: tuple[CmfQuery, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    query, _ = recorded
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert query.get_pipeline_names() == ["Test-env"]  # lists need no pandas
    with pytest.raises(FailedPreconditionError, match=r"pip install 'mltrail\[pandas\]'"):
        query.get_all_executions_in_stage("Test-env/Train")
