"""CMF's JSON export (``cmf metadata export``) brought into a store: the mapping onto what
tracking records, identity (a second import adds nothing), errors naming the record, and
rollback. The export is built by hand after CMF's ``CmfQuery.dumptojson``."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tracking_helpers import write

import mltrail as m
from _dump import dump
from mltrail.compat.cmf import Cmf, import_json
from mltrail.compat.cmfquery import CmfQuery
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.tracking import Tracker

REPO = "https://github.com/hpe-user/experiment-repo.git"
COMMIT = "44bf2ad09d89e24693c8e98b8da8fcecb248fb77"
T0 = 1_698_650_988_149
DATA_MD5 = "236d9502e0283d91f689d7038b8508a2"
TRAIN_MD5 = "32b715ef0d71ff4c9e61f55b09c15e75"
MODEL_MD5 = "5f6e4aa57cce9e3a0b8fd1e6ea8c3b6c"
STEPS_MD5 = "6a2ca2f6d3bd5dd75bc4a3cc6ab2de1a"
ENV_MD5 = "0d1f3e6b5a2c4d7e8f9a0b1c2d3e4f5a"
METRICS_UUID = "d7c9a3c4-76f6-11ee-9600-5b8c6d427e3f"
PREPARE_UUID = "1afa7676-76f6-11ee-9600-5b8c6d427e3f"
TRAIN_UUID = "3f6f2db2-76f6-11ee-9600-5b8c6d427e3f"


def times(offset: int) -> dict[str, int]:
    return {
        "create_time_since_epoch": T0 + offset,
        "last_update_time_since_epoch": T0 + offset + 5,
    }


def artifact(
    type_name: str, name: str, uri: str, props: dict[str, Any], custom: dict[str, Any], at: int
) -> dict[str, Any]:
    return {
        "id": at,
        "type": type_name,
        "type_id": 20 + at,
        "name": name,
        "uri": uri,
        "properties": props,
        "custom_properties": custom,
        **times(at),
    }


def files(md5: str) -> dict[str, Any]:
    return {
        "Commit": md5,
        "git_repo": REPO,
        "url": f"Test-env:/home/user/local-storage/{md5[:2]}/{md5[2:]}",
    }


ENV = artifact(
    "Environment",
    f"cmf_artifacts/python_env_aa11.txt:{ENV_MD5}",
    ENV_MD5,
    files(ENV_MD5),
    {},
    1,
)
DATA = artifact(
    "Dataset",
    f"artifacts/data.xml.gz:{DATA_MD5}",
    DATA_MD5,
    files(DATA_MD5),
    {"user-metadata1": "metadata_value"},
    2,
)
TRAIN_TSV = artifact(
    "Dataset", f"artifacts/parsed/train.tsv:{TRAIN_MD5}", TRAIN_MD5, files(TRAIN_MD5), {}, 3
)
STEPS = artifact(
    "Step_Metrics",
    f"cmf_artifacts/{TRAIN_UUID}/metrics/training_metrics:{STEPS_MD5}:2:bb8f4e1c",
    STEPS_MD5,
    {"Commit": STEPS_MD5, "url": f"Test-env:/store/{STEPS_MD5}"},
    {},
    4,
)
MODEL = artifact(
    "Model",
    f"artifacts/model/model.pkl:{MODEL_MD5}:2",
    MODEL_MD5,
    {
        **files(MODEL_MD5),
        "model_framework": "SKlearn",
        "model_name": "RandomForestClassifier:default",
        "model_type": "RandomForestClassifier",
    },
    {},
    5,
)
METRICS = artifact(
    "Metrics",
    f"metrics:{METRICS_UUID}:2",
    METRICS_UUID,
    {"metrics_name": f"metrics:{METRICS_UUID}:2"},
    {"avg_prec": 0.55, "roc_auc": 0.9},
    6,
)


def execution(
    stage: str, type_name: str, uuid: str, command: list[str], custom: dict[str, Any], at: int
) -> dict[str, Any]:
    return {
        "id": at,
        "type": type_name,
        "type_id": 10 + at,
        "name": "",
        "properties": {
            "Context_ID": 1 + at,
            "Context_Type": f"Test-env/{stage}",
            "Execution": str(command),
            "Execution_type_name": f"Test-env/{stage}",
            "Execution_uuid": uuid,
            "Git_End_Commit": "",
            "Git_Repo": REPO,
            "Git_Start_Commit": COMMIT,
            "Pipeline_Type": "Test-env",
            "Pipeline_id": 1,
        },
        "custom_properties": custom,
        **times(100 * at),
        "events": [],
    }


def stage(name: str, at: int, executions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": at,
        "name": f"Test-env/{name}",
        "type": "Pipeline_Stage",
        "type_id": 2,
        "properties": {"Pipeline_Stage": f"Test-env/{name}"},
        "custom_properties": {"user-metadata1": "metadata_value"} if name == "Prepare" else {},
        **times(10 * at),
        "executions": executions,
    }


def event(kind: int, record: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "artifact": copy.deepcopy(record)}


def cmf_export(pipeline: str = "Test-env") -> dict[str, Any]:
    """Two stages of CMF's get-started example, as ``cmf metadata export`` writes them."""
    prepare = execution(
        "Prepare",
        "Prepare",
        PREPARE_UUID,
        ["src/parse.py", "artifacts/data.xml.gz", "artifacts/parsed"],
        {"seed": 20170428, "split": "0.2", "Python_Env": "cmf_artifacts/python_env_aa11.txt"},
        1,
    )
    prepare["events"] = [event(3, ENV), event(3, DATA), event(4, TRAIN_TSV)]
    train = execution(
        "Train",
        "Train-execution",
        TRAIN_UUID,
        ["src/train.py", "artifacts/features", "artifacts/model"],
        {"n_est": 100, "min_split": 64},
        2,
    )
    train["events"] = [
        event(3, ENV),
        event(3, TRAIN_TSV),
        event(4, STEPS),
        event(4, MODEL),
        event(4, METRICS),
    ]
    document = {
        "Pipeline": [
            {
                "id": 1,
                "name": "Test-env",
                "type": "Parent_Context",
                "type_id": 1,
                "properties": {"Pipeline": "Test-env"},
                "custom_properties": {"team": "nlp"},
                **times(0),
                "stages": [stage("Prepare", 2, [prepare]), stage("Train", 3, [train])],
            }
        ]
    }
    if pipeline != "Test-env":
        text = json.dumps(document).replace("Test-env", pipeline)
        text = text.replace(PREPARE_UUID, PREPARE_UUID[:-4] + "aaaa")
        text = text.replace(TRAIN_UUID, TRAIN_UUID[:-4] + "aaaa")
        document = json.loads(text)
    return document


def one(items: list[Any]) -> Any:
    assert len(items) == 1, items
    return items[0]


def test_an_export_becomes_what_tracking_records(store: m.MetadataStore) -> None:
    report = import_json(store, cmf_export())
    assert report.to_json() == {
        "pipelines": 1,
        "stages": 2,
        "executions": 2,
        "new_executions": 2,
        "artifacts": 6,
        "new_artifacts": 6,
        "new_events": 8,
    }
    pipeline = store.get_context_by_type_and_name("Pipeline", "Test-env")
    assert pipeline is not None and pipeline.id is not None
    assert pipeline.custom_properties == {
        "team": "nlp",
        "cmf.create_time_since_epoch": T0,
        "cmf.last_update_time_since_epoch": T0 + 5,
    }
    stages = store.get_children_contexts_by_context(pipeline.id)
    assert [(s.type, s.name) for s in stages] == [
        ("Stage", "Test-env/Prepare"),
        ("Stage", "Test-env/Train"),
    ]
    assert stages[0].properties == {"pipeline": "Test-env", "stage": "Prepare"}
    assert stages[0].custom_properties["user-metadata1"] == "metadata_value"

    prepare, train = store.get_executions()
    assert (prepare.type, prepare.external_id, prepare.name) == ("Prepare", PREPARE_UUID, None)
    assert prepare.last_known_state == m.ExecutionState.UNKNOWN
    assert prepare.properties == {
        "pipeline": "Test-env",
        "stage": "Prepare",
        "command": "['src/parse.py', 'artifacts/data.xml.gz', 'artifacts/parsed']",
        "argv": ["src/parse.py", "artifacts/data.xml.gz", "artifacts/parsed"],
        "git_remote": REPO,
        "git_commit": COMMIT,
        "code_version": COMMIT,
        "start_time": T0 + 100,
    }
    assert prepare.custom_properties == {
        "seed": 20170428,
        "split": "0.2",
        "Python_Env": "cmf_artifacts/python_env_aa11.txt",
        "cmf.Execution_uuid": PREPARE_UUID,
        "cmf.create_time_since_epoch": T0 + 100,
        "cmf.last_update_time_since_epoch": T0 + 105,
    }
    assert {c.name for c in store.get_contexts_by_execution(train.id or 0)} == {
        "Test-env",
        "Test-env/Train",
    }

    by_id = {a.external_id: a for a in store.get_artifacts()}
    assert set(by_id) == {
        f"md5:{ENV_MD5}",
        f"md5:{DATA_MD5}",
        f"md5:{TRAIN_MD5}",
        f"md5:{STEPS_MD5}",
        f"md5:{MODEL_MD5}",
        f"cmf:{METRICS_UUID}",
    }
    data = by_id[f"md5:{DATA_MD5}"]
    assert (data.type, data.name, data.uri) == (
        "Dataset",
        f"artifacts/data.xml.gz:{DATA_MD5}",
        "artifacts/data.xml.gz",
    )
    assert data.properties == {
        "path": "artifacts/data.xml.gz",
        "paths": ["artifacts/data.xml.gz"],
        "algorithm": "md5",
        "kind": "file",
    }
    assert data.custom_properties == {
        "user-metadata1": "metadata_value",
        "cmf.git_repo": REPO,
        "url": [f"Test-env:/home/user/local-storage/23/{DATA_MD5[2:]}"],
        "cmf.create_time_since_epoch": T0 + 2,
        "cmf.last_update_time_since_epoch": T0 + 7,
    }
    model = by_id[f"md5:{MODEL_MD5}"]
    assert (model.properties["framework"], model.properties["model_type"]) == (
        "SKlearn",
        "RandomForestClassifier",
    )
    assert model.properties["path"] == "artifacts/model/model.pkl"
    assert by_id[f"md5:{STEPS_MD5}"].type == "StepMetrics"
    assert by_id[f"md5:{STEPS_MD5}"].properties == {"metrics_name": "training_metrics"}
    metrics = by_id[f"cmf:{METRICS_UUID}"]
    assert (metrics.type, metrics.properties) == ("Metrics", {"metrics_name": "metrics"})
    assert (metrics.custom_properties["avg_prec"], metrics.custom_properties["roc_auc"]) == (
        0.55,
        0.9,
    )
    assert by_id[f"md5:{ENV_MD5}"].type == "Environment"

    kinds = {
        (e.execution_id, by_id_of(store, e.artifact_id), e.type)
        for e in store.get_events_by_execution_ids([prepare.id or 0, train.id or 0])
    }
    assert kinds == {
        (prepare.id, f"md5:{ENV_MD5}", m.EventType.INPUT),
        (prepare.id, f"md5:{DATA_MD5}", m.EventType.INPUT),
        (prepare.id, f"md5:{TRAIN_MD5}", m.EventType.OUTPUT),
        (train.id, f"md5:{ENV_MD5}", m.EventType.INPUT),
        (train.id, f"md5:{TRAIN_MD5}", m.EventType.INPUT),
        (train.id, f"md5:{STEPS_MD5}", m.EventType.OUTPUT),
        (train.id, f"md5:{MODEL_MD5}", m.EventType.OUTPUT),
        (train.id, f"cmf:{METRICS_UUID}", m.EventType.OUTPUT),
    }
    provenance = store.get_provenance(metrics.id or 0)
    assert f"md5:{DATA_MD5}" in {a.external_id for a in provenance.artifacts}
    train_tsv = by_id[f"md5:{TRAIN_MD5}"]
    assert {c.name for c in store.get_contexts_by_artifact(train_tsv.id or 0)} == {
        "Test-env",
        "Test-env/Prepare",
        "Test-env/Train",
    }


def by_id_of(store: m.MetadataStore, artifact_id: int | None) -> str | None:
    return one(store.get_artifacts_by_id([artifact_id or 0])).external_id


def test_a_second_import_adds_nothing(store: m.MetadataStore, tmp_path: Path) -> None:
    path = tmp_path / "Test-env.json"
    path.write_text(json.dumps(cmf_export(), indent=2))
    import_json(store, path)
    before = dump(store.database)
    again = import_json(store, str(path))
    assert (again.new_executions, again.new_artifacts, again.new_events) == (0, 0, 0)
    assert (again.executions, again.artifacts) == (2, 6)
    assert dump(store.database) == before


def test_another_pipeline_shares_artifacts_by_hash(store: m.MetadataStore) -> None:
    import_json(store, cmf_export())
    report = import_json(store, cmf_export("Other-pipe"))
    assert (report.new_executions, report.new_artifacts, report.new_events) == (2, 0, 8)
    data = one(store.get_artifacts_by_external_ids([f"md5:{DATA_MD5}"]))
    assert {c.name for c in store.get_contexts_by_artifact(data.id or 0)} == {
        "Test-env",
        "Test-env/Prepare",
        "Other-pipe",
        "Other-pipe/Prepare",
    }
    # CMF's rule for a known artifact: the new custom properties are merged, urls are united.
    assert data.custom_properties["url"] == [
        f"Test-env:/home/user/local-storage/23/{DATA_MD5[2:]}",
        f"Other-pipe:/home/user/local-storage/23/{DATA_MD5[2:]}",
    ]
    assert data.custom_properties["cmf.create_time_since_epoch"] == T0 + 2


def test_a_reused_execution_gains_its_new_uuids_and_events(store: m.MetadataStore) -> None:
    import_json(store, cmf_export())
    later = cmf_export()
    train = later["Pipeline"][0]["stages"][1]["executions"][0]
    train["properties"]["Execution_uuid"] = f"{TRAIN_UUID},5e5e5e5e-76f6-11ee-9600-5b8c6d427e3f"
    train["custom_properties"]["n_est"] = 500  # the first writer of an execution wins
    extra = artifact("Dataset", "artifacts/extra.csv:" + "e" * 32, "e" * 32, {}, {}, 9)
    train["events"].append(event(4, extra))
    report = import_json(store, later)
    assert (report.new_executions, report.new_artifacts, report.new_events) == (0, 1, 1)
    stored = one(store.get_executions_by_external_ids([TRAIN_UUID]))
    assert stored.custom_properties["cmf.Execution_uuid"] == (
        f"{TRAIN_UUID},5e5e5e5e-76f6-11ee-9600-5b8c6d427e3f"
    )
    assert stored.custom_properties["n_est"] == 100
    outputs = store.get_events_by_execution_ids([stored.id or 0])
    assert len(outputs) == 6
    assert len(store.get_executions()) == 2


def test_tracked_md5_files_are_the_same_artifacts(store: m.MetadataStore, project: Path) -> None:
    content = b"<posts/>"
    md5 = hashlib.md5(content).hexdigest()
    write(project / "artifacts" / "data.xml.gz", content)
    tracker = Tracker("Test-env", store=store, root=project, hash_algorithm="md5")
    with tracker, tracker.stage("Prepare").execution() as run:
        logged = run.log_dataset("artifacts/data.xml.gz")
    export = cmf_export()
    prepare = export["Pipeline"][0]["stages"][0]["executions"][0]
    record = prepare["events"][1]["artifact"]
    record["uri"], record["name"] = md5, f"artifacts/data.xml.gz:{md5}"
    import_json(store, export)
    found = one(store.get_artifacts_by_external_ids([f"md5:{md5}"]))
    assert found.id == logged.id and found.name is None  # the tracked artifact, kept
    assert found.custom_properties["user-metadata1"] == "metadata_value"
    assert len(store.get_artifact_consumers(found.id or 0)) == 2


def test_imported_history_answers_cmf_queries(store: m.MetadataStore) -> None:
    import_json(store, cmf_export())
    query = CmfQuery(store=store)
    assert query.get_pipeline_stages("Test-env") == ["Test-env/Prepare", "Test-env/Train"]
    row = one(query.get_artifact(f"artifacts/data.xml.gz:{DATA_MD5}").to_dict("records"))
    assert (row["uri"], row["Commit"], row["git_repo"], row["type"]) == (
        DATA_MD5,
        DATA_MD5,
        REPO,
        "Dataset",
    )
    assert row["url"] == f"Test-env:/home/user/local-storage/23/{DATA_MD5[2:]}"
    assert row["create_time_since_epoch"] == T0 + 2
    assert row["custom_properties_user-metadata1"] == "metadata_value"
    execution = one(query.get_all_executions_in_stage("Test-env/Train").to_dict("records"))
    assert (execution["Execution_uuid"], execution["Git_Start_Commit"], execution["Git_Repo"]) == (
        TRAIN_UUID,
        COMMIT,
        REPO,
    )
    assert execution["custom_properties_n_est"] == 100
    assert execution["Execution"] == "['src/train.py', 'artifacts/features', 'artifacts/model']"
    parents = query.get_all_parent_artifacts(f"metrics:{METRICS_UUID}:2")
    assert set(parents["name"]) == {ENV["name"], DATA["name"], TRAIN_TSV["name"]}
    steps = query.get_artifact(STEPS["name"])
    assert steps is not None and steps.iloc[0]["type"] == "Step_Metrics"
    producer = query.find_producer_execution(MODEL["name"])
    assert producer is not None and producer.external_id == TRAIN_UUID


def test_round_trip_through_cmf_json(store: m.MetadataStore, project: Path) -> None:
    """What mltrail recorded, dumped as CMF's JSON, imports elsewhere with the same identities."""
    write(project / "in.csv", "1\n")
    with Cmf(store=store, pipeline_name="p") as cmf:
        cmf.create_context("s1")
        first = cmf.create_execution("e1", {"lr": 0.1})
        cmf.log_dataset("in.csv", "input")
        write(project / "out.csv", "2\n")
        cmf.log_dataset("out.csv", "output")
        cmf.create_context("s2")
        cmf.create_execution("e2")
        cmf.log_dataset("out.csv", "input")
        metrics = cmf.log_execution_metrics("metrics", {"acc": 0.5})
    source = CmfQuery(store=store)
    document = json.loads(source.dumptojson("p"))
    with m.connect(project / "copy.db") as copy_store:
        import_json(copy_store, document)
        copied = CmfQuery(store=copy_store)
        assert sorted(copied.get_all_artifacts()) == sorted(source.get_all_artifacts())
        assert {e.external_id for e in copy_store.get_executions()} == {
            e.external_id for e in store.get_executions()
        }
        assert {a.external_id for a in copy_store.get_artifacts()} == {
            a.external_id for a in store.get_artifacts()
        }
        [e1] = copy_store.get_executions_by_external_ids([str(first.external_id)])
        assert e1.custom_properties["lr"] == 0.1
        assert e1.properties["start_time"] == first.properties["start_time"]
        copied_metrics = one(copy_store.get_artifacts_by_external_ids([str(metrics.external_id)]))
        upstream = {
            a.properties.get("path")
            for a in copy_store.get_provenance(copied_metrics.id or 0).artifacts
        }
        assert {"in.csv", "out.csv"} <= upstream
        assert import_json(copy_store, document).new_events == 0


def malformed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A valid pipeline first, then a copy of it with ``change`` applied: nothing may be
    written, not even the valid one."""
    document = cmf_export("Valid-pipe")
    broken = cmf_export()
    change(broken)
    document["Pipeline"] += broken["Pipeline"]
    return document


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        node: Any = document
        for step in path[:-1]:
            node = node[step]
        if value is KeyError:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return change


EXECUTION = ["Pipeline", 0, "stages", 1, "executions", 0]
CASES = {
    "no name": (
        _set(["Pipeline", 0, "name"], KeyError),
        r"^Pipeline\[1\]: no 'name'$",
    ),
    "execution without name": (
        _set([*EXECUTION, "name"], KeyError),
        r"^Pipeline\[1\]\.stages\[1\]\.executions\[0\]: no 'name'$",
    ),
    "no uuid": (
        _set([*EXECUTION, "properties", "Execution_uuid"], KeyError),
        r"^Pipeline\[1\]\.stages\[1\]\.executions\[0\]: no 'Execution_uuid' property",
    ),
    "event type": (
        _set([*EXECUTION, "events", 2, "type"], 99),
        r"^Pipeline\[1\]\.stages\[1\]\.executions\[0\]\.events\[2\]: 'type' must be an event",
    ),
    "artifact uri": (
        _set([*EXECUTION, "events", 0, "artifact", "uri"], KeyError),
        r"executions\[0\]\.events\[0\]\.artifact: no 'uri'$",
    ),
    "stages not a list": (
        _set(["Pipeline", 0, "stages"], {"a": 1}),
        r"^Pipeline\[1\]: 'stages' must be a list, got an object$",
    ),
    "custom properties": (
        _set([*EXECUTION, "custom_properties"], [1]),
        r"executions\[0\]: 'custom_properties' must be an object, got a list$",
    ),
    "event not an object": (
        _set([*EXECUTION, "events", 1], "INPUT"),
        r"executions\[0\]\.events\[1\]: expected a JSON object, got a string$",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_records_are_named_and_change_nothing(store: m.MetadataStore, case: str) -> None:
    import_json(store, cmf_export("Before"))
    before = dump(store.database)
    change, message = CASES[case]
    with pytest.raises(InvalidArgumentError, match=message):
        import_json(store, malformed(change))
    assert dump(store.database) == before


def test_documents_that_are_not_exports(store: m.MetadataStore, tmp_path: Path) -> None:
    before = dump(store.database)
    with pytest.raises(InvalidArgumentError, match="no 'Pipeline' list"):
        import_json(store, {"pipelines": []})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidArgumentError, match=r"bad\.json is not JSON"):
        import_json(store, tmp_path / "bad.json")
    with pytest.raises(NotFoundError, match="no CMF export at"):
        import_json(store, tmp_path / "missing.json")
    with pytest.raises(InvalidArgumentError, match="file path or a dict"):
        import_json(store, 42)
    assert import_json(store, {"Pipeline": []}).pipelines == 0
    assert dump(store.database) == before


def test_a_failure_midway_leaves_the_pipeline_out(
    store: m.MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_json(store, cmf_export("Before"))
    before = dump(store.database)
    original = store.put_lineage_subgraph
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the second stage
            raise m.errors.UnavailableError("the database went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "put_lineage_subgraph", failing)
    with pytest.raises(m.errors.UnavailableError):
        import_json(store, cmf_export())
    assert dump(store.database) == before
    monkeypatch.setattr(store, "put_lineage_subgraph", original)
    assert import_json(store, cmf_export()).new_executions == 2


def test_the_command_line_imports_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mltrail.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLTRAIL_STORE", raising=False)
    (tmp_path / "Test-env.json").write_text(json.dumps(cmf_export(), indent=2))
    runner = CliRunner()
    first = runner.invoke(main, ["import", "cmf", "Test-env.json", "--store", "ml.db"])
    assert first.exit_code == 0, first.output
    assert first.output == (
        "1 pipelines, 2 stages: 2 executions (2 new), 6 artifacts (6 new), 8 new events\n"
    )
    again = runner.invoke(main, ["--store", "ml.db", "import", "cmf", "Test-env.json"])
    assert again.output.endswith("(0 new), 6 artifacts (0 new), 0 new events\n")
    (tmp_path / "bad.json").write_text(json.dumps({"Pipeline": [{"stages": []}]}))
    bad = runner.invoke(main, ["import", "cmf", "bad.json", "--store", "ml.db"])
    assert bad.exit_code != 0
    assert "InvalidArgumentError: Pipeline[0]: no 'name'" in bad.output
    with m.connect(tmp_path / "ml.db") as store:
        assert len(store.get_executions()) == 2
