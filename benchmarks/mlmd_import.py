"""Importing an ML Metadata database: rows per second into a new mltrail SQLite file.

    python benchmarks/mlmd_import.py                       # 100,000 steps
    python benchmarks/mlmd_import.py --steps 10000 --profile

The MLMD database (SQLite, written with ML Metadata's own API in bulk calls) holds a pipeline
context with ``--steps / 100`` run contexts (children of it) and ``--steps`` steps: each step is
an execution (a ``Trainer``: property ``lr``, custom ``step``, every tenth a struct ``config``)
that reads the previous step's model (an INPUT event, path ``["examples", 0]``) and writes a
model (an artifact: properties ``day`` and ``split``, custom ``note``; an OUTPUT event, path
``["model"]``), both members of their run. So ``--steps`` artifacts and ``--steps``
executions. It is built once and kept at ``--mlmd`` (a temporary file unless given).

The import of the whole database into a new mltrail SQLite file is timed (``import_mlmd``,
one process, default batch size) and reported as rows/s, where rows are every row of the MLMD
tables the import reads: Type, TypeProperty, ParentType, Artifact, ArtifactProperty, Execution,
ExecutionProperty, Context, ContextProperty, Event, EventPath, Attribution, Association and
ParentContext (each counted once; MLMDEnv not). Then the same database is imported again
(nothing to add: the time of a re-import).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import mltrail
from mltrail.compat.mlmd import import_mlmd

CHUNK = 10_000  # nodes per ML Metadata call while building


def build(path: Path, steps: int) -> None:
    """The MLMD database of ``steps`` steps (see the module's docstring)."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(config)
    model = pb.ArtifactType(name="Model", base_type=pb.ArtifactType.MODEL)
    model.properties["day"] = pb.INT
    model.properties["split"] = pb.STRING
    trainer = pb.ExecutionType(name="Trainer")
    trainer.properties["lr"] = pb.DOUBLE
    run_type = pb.ContextType(name="Run")
    run_type.properties["index"] = pb.INT
    model_id = store.put_artifact_type(model)
    trainer_id = store.put_execution_type(trainer)
    run_id = store.put_context_type(run_type)
    pipeline_id = store.put_context_type(pb.ContextType(name="Pipeline"))
    [pipeline] = store.put_contexts([pb.Context(type_id=pipeline_id, name="bench")])
    runs = []
    for index in range(max(1, steps // 100)):
        run = pb.Context(type_id=run_id, name=f"run-{index}")
        run.properties["index"].int_value = index
        runs.append(run)
    run_ids = store.put_contexts(runs)
    store.put_parent_contexts(
        [pb.ParentContext(child_id=child, parent_id=pipeline) for child in run_ids]
    )
    previous = None
    for start in range(0, steps, CHUNK):
        count = min(CHUNK, steps - start)
        artifacts, executions = [], []
        for i in range(start, start + count):
            a = pb.Artifact(type_id=model_id, uri=f"s3://models/{i}", state=pb.Artifact.LIVE)
            a.properties["day"].int_value = i % 365
            a.properties["split"].string_value = "train"
            a.custom_properties["note"].string_value = f"model of step {i}"
            artifacts.append(a)
            e = pb.Execution(type_id=trainer_id, last_known_state=pb.Execution.COMPLETE)
            e.properties["lr"].double_value = 0.001 * (i % 100)
            e.custom_properties["step"].int_value = i
            if i % 10 == 0:
                e.custom_properties["config"].struct_value.update({"layers": [64, 32], "i": i})
            executions.append(e)
        artifact_ids = store.put_artifacts(artifacts)
        execution_ids = store.put_executions(executions)
        events, attributions, associations = [], [], []
        for k, (artifact_id, execution_id) in enumerate(zip(artifact_ids, execution_ids)):
            context = run_ids[(start + k) // 100 % len(run_ids)]
            if previous is not None:
                read = pb.Event(
                    artifact_id=previous, execution_id=execution_id, type=pb.Event.INPUT
                )
                read.path.steps.add().key = "examples"
                read.path.steps.add().index = 0
                events.append(read)
            wrote = pb.Event(
                artifact_id=artifact_id, execution_id=execution_id, type=pb.Event.OUTPUT
            )
            wrote.path.steps.add().key = "model"
            events.append(wrote)
            attributions.append(pb.Attribution(artifact_id=artifact_id, context_id=context))
            associations.append(pb.Association(execution_id=execution_id, context_id=context))
            previous = artifact_id
        store.put_events(events)
        store.put_attributions_and_associations(attributions, associations)


def table_rows(path: Path) -> dict[str, int]:
    tables = [
        "Type",
        "TypeProperty",
        "ParentType",
        "Artifact",
        "ArtifactProperty",
        "Execution",
        "ExecutionProperty",
        "Context",
        "ContextProperty",
        "Event",
        "EventPath",
        "Attribution",
        "Association",
        "ParentContext",
    ]
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--mlmd", type=Path, help="the MLMD database (built when missing)")
    parser.add_argument("--profile", action="store_true", help="print the import's profile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.mlmd or Path(tmp) / f"mlmd-{args.steps}.sqlite"
        if not source.exists():
            start = time.perf_counter()
            build(source, args.steps)
            print(f"built {source} with ML Metadata in {time.perf_counter() - start:.1f} s")
        rows = table_rows(source)
        total = sum(rows.values())
        print(f"MLMD rows: {total:,} ({', '.join(f'{t} {n:,}' for t, n in rows.items())})")
        target = Path(tmp) / "store.db"
        with mltrail.connect(target) as store:
            profile = cProfile.Profile() if args.profile else None
            start = time.perf_counter()
            if profile is not None:
                profile.enable()
            report = import_mlmd(store, source)
            if profile is not None:
                profile.disable()
            took = time.perf_counter() - start
            print(report.summary())
            assert report.rows == total, (report.rows, total)
            print(f"first import: {took:.1f} s, {total / took:,.0f} rows/s")
            start = time.perf_counter()
            again = import_mlmd(store, source)
            took_again = time.perf_counter() - start
            assert again.created == again.updated == again.edges == 0, again
            print(
                f"import again (nothing new): {took_again:.1f} s, {total / took_again:,.0f} rows/s"
            )
            counts = (store.count_artifacts(), store.count_executions(), store.count_contexts())
            assert counts == (rows["Artifact"], rows["Execution"], rows["Context"]), counts
        print(f"store file: {os.path.getsize(target) / 1e6:.0f} MB")
        if profile is not None:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    print(f"command: python {' '.join(sys.argv)} (Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
