"""Record a small multi-stage pipeline in a SQLite file, ask it questions, then serve it.

    python examples/demo.py [path/to/demo.db]

Two runs of ingest → clean → featurize → train → evaluate are recorded (the second with a
different learning rate); then the demo prints where the newest model came from, what was made
from the raw data, the two models side by side, and whether the second training had already run.
Then a second site records a third run in its own file, offline; a central server starts
(``mltrail serve``), both sites push to it, the first site pulls, and the first site's store
answers where the third run's model came from: a lineage that spans both sites. Last, the bytes
travel too: site B trains a model file with the Tracker and pushes its bytes to shared storage (a
directory here; S3 or SSH in real life), and site A, after a metadata pull, fetches the model by
its digest, verified.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import mltrail
from mltrail import (
    Artifact,
    ArtifactType,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionState,
    ExecutionType,
    Fingerprint,
    LineageGraph,
    MetadataStore,
    ParentContext,
    PropertyType,
    sync,
)

STAGES = ["ingest", "clean", "featurize", "train", "evaluate"]


def declare_types(store: MetadataStore) -> None:
    store.put_artifact_type(
        ArtifactType(
            name="Dataset",
            properties={"rows": PropertyType.INT, "split": PropertyType.STRING},
            base_type=ArtifactType.BaseType.DATASET,
        )
    )
    store.put_artifact_type(
        ArtifactType(name="Model", properties={"framework": PropertyType.STRING})
    )
    store.put_artifact_type(
        ArtifactType(name="Metrics", properties={"accuracy": PropertyType.DOUBLE})
    )
    store.put_execution_type(ExecutionType(name="Step", properties={"stage": PropertyType.STRING}))
    store.put_context_type(ContextType(name="Pipeline"))
    store.put_context_type(ContextType(name="Run", properties={"lr": PropertyType.DOUBLE}))


def record_run(store: MetadataStore, number: int, lr: float, raw: Artifact | None) -> Artifact:
    """One pipeline run; returns the raw dataset (shared by both runs)."""
    pipeline = Context(type="Pipeline", name="churn")
    run = Context(type="Run", name=f"churn-run-{number}", properties={"lr": lr})
    if raw is None:
        # Identified by its content digest (as the Tracker does), so that every site that
        # reads the same data names the same artifact.
        raw = Artifact(
            type="Dataset",
            name="raw.csv",
            uri="s3://data/raw.csv",
            external_id="sha256:5f1c9a0e7b",
            properties={"rows": 10_000},
        )
        raw.id = store.put_artifacts([raw])[0]
    previous = raw
    accuracy = 0.81 if lr > 0.05 else 0.87
    outputs = {
        "ingest": Artifact(
            type="Dataset", uri=f"runs/{number}/ingested.parquet", properties={"rows": 10_000}
        ),
        "clean": Artifact(
            type="Dataset", uri=f"runs/{number}/clean.parquet", properties={"rows": 9_650}
        ),
        "featurize": Artifact(
            type="Dataset",
            uri=f"runs/{number}/features.parquet",
            properties={"rows": 9_650, "split": "train"},
        ),
        "train": Artifact(
            type="Model",
            name=f"churn-model-{number}",
            uri=f"runs/{number}/model.pkl",
            properties={"framework": "sklearn"},
            custom_properties={"lr": lr, "n_estimators": 200},
        ),
        "evaluate": Artifact(
            type="Metrics", uri=f"runs/{number}/metrics.json", properties={"accuracy": accuracy}
        ),
    }
    for stage in STAGES:
        execution = Execution(
            type="Step",
            name=f"{stage}-{number}",
            last_known_state=ExecutionState.COMPLETE,
            properties={"stage": stage},
        )
        if stage == "train":
            Fingerprint.of(
                "Step", parameters={"lr": lr}, inputs={"features": previous.uri or ""}
            ).apply(execution)
        output = outputs[stage]
        _, (_, output.id), context_ids = store.put_execution(
            execution,
            [(previous, Event(type=EventType.INPUT)), (output, Event(type=EventType.OUTPUT))],
            [pipeline, run],
            reuse_context_if_already_exist=True,
        )
        previous = output
        if stage == "ingest":  # the run is part of the pipeline
            store.put_parent_contexts(
                [ParentContext(child_id=context_ids[1], parent_id=context_ids[0])]
            )
    return raw


def show_graph(title: str, graph: LineageGraph) -> None:
    print(f"\n{title}")
    names = {a.id: a.name or a.uri for a in graph.artifacts}
    for event in graph.events:
        execution = next(e for e in graph.executions if e.id == event.execution_id)
        arrow = "──▶" if event.type == EventType.INPUT else "◀──"
        print(f"  {names[event.artifact_id]:<32} {arrow} {execution.name}")


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output/demo.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    with mltrail.connect(f"sqlite:///{path}") as store:
        declare_types(store)
        raw = record_run(store, 1, lr=0.1, raw=None)
        record_run(store, 2, lr=0.01, raw=raw)
        print(f"Recorded two runs of the 'churn' pipeline in {path}")
        print(
            f"  {len(store.get_artifacts())} artifacts, {len(store.get_executions())} executions, "
            f"{len(store.get_contexts())} contexts"
        )

        model = store.get_artifacts(filter_query="type = 'Model' AND custom_properties.lr < 0.05")[
            0
        ]
        show_graph(
            f"Where did {model.name} come from? (upstream, any depth)",
            store.get_provenance(model.id),
        )

        impact = store.get_impact(raw.id)
        print(f"\nWhat was made from {raw.name}? (downstream)")
        for artifact in impact.artifacts:
            print(f"  {artifact.type:<8} {artifact.name or artifact.uri}")

        first, second = store.get_artifacts_by_type("Model")
        print("\nThe two models side by side (* = differs)")
        for row in store.compare_artifacts(first.id, second.id).rows:
            if row.field != "create_time_since_epoch":
                mark = "*" if row.differs else " "
                print(f"  {mark} {row.field:<32} {row.left!s:<18} {row.right!s}")

        best = store.get_artifacts(filter_query="type = 'Metrics' AND properties.accuracy > 0.85")
        print(f"\nRuns with accuracy > 0.85: {[m.uri for m in best]}")

        again = Fingerprint.of(
            "Step", parameters={"lr": 0.01}, inputs={"features": "runs/2/features.parquet"}
        )
        cached = store.find_cached_execution(again)
        print(
            f"\nHas training with lr=0.01 on runs/2 features run before? "
            f"{'yes: execution ' + str(cached.execution.name) if cached else 'no'}"
        )
        changed = Fingerprint.of(
            "Step", parameters={"lr": 0.001}, inputs={"features": "runs/2/features.parquet"}
        )
        why = store.explain_cache_miss(changed)
        assert why.nearest is not None
        print(f"And with lr=0.001? No. Nearest earlier run: {why.nearest.name}; differences:")
        for difference in why.differences:
            print(f"  - {difference}")
    two_sites_and_a_server(path)
    artifact_bytes(path.parent)


def artifact_bytes(folder: Path) -> None:
    """Site B logs a model file and pushes its bytes; site A pulls the metadata, then fetches
    the bytes by digest (verified) into its own work tree."""
    storage = folder / "shared-storage"  # any data remote: a directory, s3://..., ssh://...
    work_b, work_a = folder / "site-b-work", folder / "site-a-work"
    (work_b / "models").mkdir(parents=True, exist_ok=True)
    work_a.mkdir(exist_ok=True)
    store_b, store_a = work_b / "tracking.db", work_a / "tracking.db"
    options = {"git": False, "environment": False}
    print("\nArtifact bytes: site B trains a model file and pushes its bytes")
    with mltrail.Tracker("churn-files", store=store_b, root=work_b, **options) as tracker:
        with tracker.stage("train").execution(parameters={"lr": 0.05}) as run:
            weights = work_b / "models" / "model.bin"
            weights.write_bytes(bytes(range(256)) * 4096)  # 1 MiB of "weights"
            model = run.log_model(weights, framework="numpy")
        pushed = tracker.push_data(str(storage))
        print(f"  logged {model.external_id}")
        print(f"  pushed {pushed.transferred} object(s) to {storage.name}")
        again = tracker.push_data(str(storage))
        print(f"  pushing again sends {again.transferred} objects ({again.skipped} already there)")
    sync.pull(f"sqlite:///{store_a}", f"sqlite:///{store_b}")  # metadata: B -> A
    with mltrail.Tracker("churn-files", store=store_a, root=work_a, **options) as tracker:
        with tracker.stage("serve").execution() as run:
            assert model.external_id is not None
            placed = run.fetch(model.external_id, remote=str(storage))
        same = placed.read_bytes() == weights.read_bytes()
        shown = placed.relative_to(folder)
        print(f"  site A fetched it to {shown}: verified against its digest, same bytes: {same}")


def two_sites_and_a_server(path: Path) -> None:
    """A second site logs offline; both sites push to a central server; the first pulls."""
    site_b = path.parent / "site-b.db"
    central = path.parent / "central.db"
    with mltrail.connect(f"sqlite:///{site_b}") as other:  # another machine, offline
        declare_types(other)
        record_run(other, 3, lr=0.05, raw=None)  # the same raw data: the same digest
    print(f"\nSite B ({site_b.name}) recorded run 3 offline, with the same raw data")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mltrail", "serve", f"sqlite:///{central}"]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--home", str(path.parent / "server")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        remote = mltrail.connect(url)
        for _ in range(200):  # the server is up once it answers
            try:
                remote.get_context_types()
                break
            except mltrail.errors.UnavailableError:
                time.sleep(0.05)
        print(f"A central server runs at {url} (mltrail serve {central.name})")
        for name, site in (("A", path), ("B", site_b)):
            report = sync.push(f"sqlite:///{site}", url)
            print(f"  push from site {name}: {report.summary().split(': ', 1)[1]}")
        print(
            f"  the server holds {remote.count_artifacts()} artifacts, "
            f"{remote.count_executions()} executions, {remote.count_contexts()} contexts "
            "(the shared raw data and pipeline once)"
        )
        report = sync.pull(f"sqlite:///{path}", url)
        print(f"  pull into site A: {report.summary().split(': ', 1)[1]}")
        remote.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    with mltrail.connect(f"sqlite:///{path}") as store:
        model = store.get_artifact_by_type_and_name("Model", "churn-model-3")
        assert model is not None and model.id is not None
        show_graph(
            f"Site A, after the pull: where did {model.name} (made at site B) come from?",
            store.get_provenance(model.id),
        )
        runs = store.get_children_contexts_by_context(
            store.get_context_by_type_and_name("Pipeline", "churn").id  # type: ignore[union-attr]
        )
        print(f"  runs of the 'churn' pipeline at site A: {sorted(r.name for r in runs)}")


if __name__ == "__main__":
    main()
