"""CMF's get-started example (parse → featurize → train → evaluate), ported by changing one
import, recorded end to end: the pipeline, its stages, executions, artifacts and lineage, and a
rerun on unchanged data that adds executions but no artifacts."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

import mltrail as m
from mltrail.compat.cmf import Cmf

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cmf_get_started"
STAGES = [
    ("parse", ["artifacts/data.xml.gz", "artifacts/parsed"]),
    ("featurize", ["artifacts/parsed", "artifacts/features"]),
    ("train", ["artifacts/features", "artifacts/model"]),
    ("evaluate", ["artifacts/model", "artifacts/features", "artifacts/test_results"]),
]
DATASETS = {
    "artifacts/data.xml.gz",
    "artifacts/parsed/train.tsv",
    "artifacts/parsed/test.tsv",
    "artifacts/features/train.json",
    "artifacts/features/test.json",
}
EXPECTED_TYPES = {
    "Dataset": 5,
    "Label": 1,
    "Environment": 1,
    "StepMetrics": 1,
    "Model": 1,
    "Metrics": 1,
}


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"cmf_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_pipeline(
    store: m.MetadataStore, project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], None]]:
    """Runs the four scripts in-process in the project directory, recording into ``store``."""
    shutil.copy(EXAMPLE / "params.json", project / "params.json")
    generate = load(EXAMPLE / "generate_data.py").generate
    scripts = {name: load(EXAMPLE / "src" / f"{name}.py") for name, _ in STAGES}
    made: list[Cmf] = []

    def cmf_on_store(*args: Any, **kwargs: Any) -> Cmf:
        writer = Cmf(*args, store=store, **kwargs)
        made.append(writer)
        return writer

    for script in scripts.values():
        monkeypatch.setattr(script, "Cmf", cmf_on_store)

    def run() -> None:
        generate(project)
        for name, args in STAGES:
            monkeypatch.setattr(sys, "argv", [f"src/{name}.py", *args])
            scripts[name].main(args)

    yield run
    for writer in made:
        writer.close()


T = TypeVar("T")


def only(items: list[T]) -> T:
    assert len(items) == 1, items
    return items[0]


def producer(store: m.MetadataStore, artifact: m.Artifact) -> m.Execution:
    return only(store.get_artifact_producers(artifact.id or 0))


def inputs(store: m.MetadataStore, execution: m.Execution) -> list[m.Artifact]:
    events = store.get_events_by_execution_ids([execution.id or 0])
    ids = [e.artifact_id or 0 for e in events if e.type == m.EventType.INPUT]
    return store.get_artifacts_by_id(ids)


def uris(artifacts: list[m.Artifact], type_name: str = "Dataset") -> set[str]:
    return {a.uri or "" for a in artifacts if a.type == type_name}


def test_one_run_records_the_pipeline(
    run_pipeline: Callable[[], None], store: m.MetadataStore
) -> None:
    run_pipeline()

    pipeline = store.get_context_by_type_and_name("Pipeline", "Test-env")
    assert pipeline is not None and pipeline.id is not None
    stages = store.get_children_contexts_by_context(pipeline.id)
    names = ["Test-env/Prepare", "Test-env/Featurize", "Test-env/Train", "Test-env/Evaluate"]
    assert sorted(c.name or "" for c in stages) == sorted(names)

    executions = store.get_executions()
    assert [e.type for e in executions] == [
        "Prepare",
        "Featurize-execution",
        "Train-execution",
        "Evaluate-execution",
    ]
    assert all(e.last_known_state == m.ExecutionState.COMPLETE for e in executions)
    assert len({e.external_id for e in executions}) == 4
    prepare, featurize, train, evaluate = executions
    assert (
        prepare.custom_properties["split"] == 0.2 and prepare.custom_properties["seed"] == 20170428
    )
    assert train.custom_properties["learning_rate"] == 0.5
    for stage, execution in zip(names, executions):
        assert {c.name for c in store.get_contexts_by_execution(execution.id or 0)} == {
            "Test-env",
            stage,
        }

    artifacts = store.get_artifacts()
    assert Counter(a.type for a in artifacts) == EXPECTED_TYPES
    assert uris(artifacts) == DATASETS
    environment = only(store.get_artifacts_by_type("Environment"))
    assert {e.execution_id for e in store.get_events_by_artifact_ids([environment.id or 0])} == {
        e.id for e in executions
    }

    # Lineage, artifact by artifact: data → parsed → features → model → metrics.
    metrics = only(store.get_artifacts_by_type("Metrics"))
    assert set(metrics.custom_properties) == {"avg_prec", "roc_auc"}
    assert producer(store, metrics).id == evaluate.id
    assert uris(inputs(store, evaluate)) == {"artifacts/features/test.json"}
    model = only(store.get_artifacts_by_type("Model"))
    assert uris(inputs(store, evaluate), "Model") == {"artifacts/model/model.json"}
    assert producer(store, model).id == train.id
    assert model.properties["framework"] == "stdlib"
    assert uris(inputs(store, train)) == {"artifacts/features/train.json"}
    features = [a for a in artifacts if (a.uri or "").startswith("artifacts/features/")]
    assert {producer(store, a).id for a in features} == {featurize.id}
    assert uris(inputs(store, featurize)) == {
        "artifacts/parsed/train.tsv",
        "artifacts/parsed/test.tsv",
    }
    parsed = [a for a in artifacts if (a.uri or "").startswith("artifacts/parsed/")]
    assert {producer(store, a).id for a in parsed} == {prepare.id}
    assert uris(inputs(store, prepare)) == {"artifacts/data.xml.gz"}
    assert uris(inputs(store, prepare), "Label") == {"artifacts/labels.csv"}
    step_metrics = only(store.get_artifacts_by_type("StepMetrics"))
    assert producer(store, step_metrics).id == train.id
    assert step_metrics.properties["num_steps"] == 8

    # The same, as one question: the provenance of the metrics at any depth.
    provenance = store.get_provenance(metrics.id or 0)
    assert uris(provenance.artifacts) == DATASETS
    assert {e.id for e in provenance.executions} == {e.id for e in executions}
    dag = store.get_context_dag(pipeline.id)
    assert len(dag.executions) == 4 and len(dag.artifacts) == 10


def test_a_rerun_on_unchanged_data_adds_executions_not_artifacts(
    run_pipeline: Callable[[], None], store: m.MetadataStore
) -> None:
    run_pipeline()
    first = {a.id: a for a in store.get_artifacts()}
    first_executions = store.get_executions()
    run_pipeline()
    second = {a.id: a for a in store.get_artifacts()}
    assert second.keys() == first.keys()
    assert Counter(a.type for a in second.values()) == EXPECTED_TYPES
    executions = store.get_executions()
    assert len(executions) == 8
    assert len(store.get_contexts()) == 5
    model = only(store.get_artifacts_by_type("Model"))
    assert len(store.get_artifact_producers(model.id or 0)) == 2
    # Each rerun execution did exactly the work of its earlier twin: same fingerprint.
    fingerprint = "mltrail.fingerprint"
    assert [e.custom_properties[fingerprint] for e in executions[4:]] == [
        e.custom_properties[fingerprint] for e in first_executions
    ]


def test_the_scripts_run_as_processes_into_the_default_store(tmp_path: Path) -> None:
    """The real thing: each stage its own process, all writing the store file ./mlmd."""
    env = {k: v for k, v in os.environ.items() if k != "MLTRAIL_STORE"}
    workdir = tmp_path / "run"
    driver = [sys.executable, str(EXAMPLE / "run_pipeline.py"), str(workdir)]
    subprocess.run(driver, env=env, check=True, capture_output=True)
    assert not (workdir / ".mltrail" / "mltrail.db").exists()
    with m.connect(workdir / "mlmd") as store:
        assert Counter(a.type for a in store.get_artifacts()) == EXPECTED_TYPES
        executions = store.get_executions()
        assert len(executions) == 4
        assert str(executions[0].properties["command"]).endswith(
            "src/parse.py artifacts/data.xml.gz artifacts/parsed"
        )
