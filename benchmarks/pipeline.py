"""The pipeline workload, on mltrail and (when installed) on Google's ML Metadata side by side.

Workload: RUNS runs of STEPS steps; each step is one ``put_execution`` with one input artifact
(the previous step's output), one new output artifact and the run's context (reused by name).
Then queries: artifacts by type, executions by context, a filter query, and upstream lineage
from every run's final artifact. Separate scenarios measure upstream lineage 10 steps deep, a
1000-step chain answered whole, and a filter over 100k artifacts with a property predicate and a
context neighbour.

    python benchmarks/pipeline.py                 # everything, SQLite in memory and in a file
    python benchmarks/pipeline.py --runs 200 --steps 5 --only workload
    python benchmarks/pipeline.py --url postgresql://postgres@127.0.0.1/mltrail_bench

MLMD is measured when ``ml_metadata`` is importable (``pip install ml-metadata==1.17.1``, Python
3.11 or older); mltrail never needs it. With ``--url`` the scenarios run on that server database
instead (mltrail only). Give a scratch database: its mltrail tables are dropped before each
scenario and at the end; a database that already holds mltrail data is refused unless ``--wipe``
is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

import mltrail
from mltrail import Artifact, Context, Event, EventType, Execution, ExecutionState
from mltrail.backends.sql import schema
from mltrail.backends.sql.database import Database

try:  # optional: the system we compare with
    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2 as mlmd_pb
except ImportError:  # pragma: no cover - depends on the machine
    ml_metadata = None


def timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    """Best-of-3 seconds per call of ``fn`` run ``repeat`` times."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


# ---------------------------------------------------------------------------------------- mltrail


class MltrailBench:
    name = "mltrail"

    def __init__(self, url: str | None) -> None:
        self.store = mltrail.connect(url)
        P = mltrail.PropertyType
        self.data = self.store.put_artifact_type(
            mltrail.ArtifactType(name="Data", properties={"rows": P.INT, "acc": P.DOUBLE})
        )
        self.step = self.store.put_execution_type(
            mltrail.ExecutionType(name="Step", properties={"lr": P.DOUBLE})
        )
        self.run = self.store.put_context_type(mltrail.ContextType(name="Run"))

    def new_source(self, run: int) -> Any:
        artifact = Artifact(type_id=self.data, uri=f"/d/{run}/0", properties={"rows": 1})
        [artifact.id] = self.store.put_artifacts([artifact])
        return artifact

    def step_once(self, run: int, k: int, previous: Any) -> Any:
        output = Artifact(
            type_id=self.data, uri=f"/d/{run}/{k + 1}", properties={"rows": k, "acc": k / 10}
        )
        execution = Execution(
            type_id=self.step, last_known_state=ExecutionState.COMPLETE, properties={"lr": 0.1}
        )
        _, ids, _ = self.store.put_execution(
            execution,
            [(previous, Event(type=EventType.INPUT)), (output, Event(type=EventType.OUTPUT))],
            [Context(type_id=self.run, name=f"run-{run}")],
            reuse_context_if_already_exist=True,
        )
        output.id = ids[1]
        return output

    def by_type(self) -> int:
        return len(self.store.get_artifacts_by_type("Data"))

    def by_context(self, run: int) -> int:
        context = self.store.get_context_by_type_and_name("Run", f"run-{run}")
        assert context is not None
        return len(self.store.get_executions_by_context(context.id))

    def by_filter(self) -> int:
        return len(self.store.get_artifacts(filter_query="uri LIKE '/d/1%' AND id > 5"))

    def upstream(self, artifact_id: int) -> int:
        return len(self.store.get_provenance(artifact_id).artifacts)

    def upstream_mlmd_style(self, artifact_id: int) -> int:
        options = mltrail.LineageSubgraphQueryOptions(
            starting_artifacts=mltrail.StartingNodes(filter_query=f"id = {artifact_id}"),
            direction=mltrail.LineageDirection.UPSTREAM,
            max_num_hops=100,
        )
        return len(self.store.get_lineage_subgraph(options).artifacts)


# ---------------------------------------------------------------------------------------- MLMD


class MlmdBench:
    name = "MLMD 1.17"

    def __init__(self, path: str | None, config: Any = None) -> None:
        """A store in the SQLite file ``path``, in memory, or as ``config`` (a server) says."""
        assert ml_metadata is not None
        if config is None:
            config = mlmd_pb.ConnectionConfig()
            if path:
                config.sqlite.filename_uri = path
                config.sqlite.connection_mode = 3
            else:
                config.fake_database.SetInParent()
        self.store = ml_metadata.MetadataStore(config)
        self.data = self.store.put_artifact_type(
            mlmd_pb.ArtifactType(
                name="Data", properties={"rows": mlmd_pb.INT, "acc": mlmd_pb.DOUBLE}
            )
        )
        self.step = self.store.put_execution_type(
            mlmd_pb.ExecutionType(name="Step", properties={"lr": mlmd_pb.DOUBLE})
        )
        self.run = self.store.put_context_type(mlmd_pb.ContextType(name="Run"))

    def new_source(self, run: int) -> Any:
        artifact = mlmd_pb.Artifact(
            type_id=self.data, uri=f"/d/{run}/0", properties={"rows": mlmd_pb.Value(int_value=1)}
        )
        [artifact.id] = self.store.put_artifacts([artifact])
        return artifact

    def step_once(self, run: int, k: int, previous: Any) -> Any:
        output = mlmd_pb.Artifact(
            type_id=self.data,
            uri=f"/d/{run}/{k + 1}",
            properties={
                "rows": mlmd_pb.Value(int_value=k),
                "acc": mlmd_pb.Value(double_value=k / 10),
            },
        )
        execution = mlmd_pb.Execution(
            type_id=self.step,
            last_known_state=mlmd_pb.Execution.COMPLETE,
            properties={"lr": mlmd_pb.Value(double_value=0.1)},
        )
        _, ids, _ = self.store.put_execution(
            execution,
            [
                (previous, mlmd_pb.Event(type=mlmd_pb.Event.INPUT)),
                (output, mlmd_pb.Event(type=mlmd_pb.Event.OUTPUT)),
            ],
            [mlmd_pb.Context(type_id=self.run, name=f"run-{run}")],
            reuse_context_if_already_exist=True,
        )
        output.id = ids[1]
        return output

    def by_type(self) -> int:
        return len(self.store.get_artifacts_by_type("Data"))

    def by_context(self, run: int) -> int:
        context = self.store.get_context_by_type_and_name("Run", f"run-{run}")
        return len(self.store.get_executions_by_context(context.id))

    def by_filter(self) -> int:
        options = ml_metadata.ListOptions(filter_query="uri LIKE '/d/1%' AND id > 5")
        return len(self.store.get_artifacts(list_options=options))

    def upstream(self, artifact_id: int) -> int:
        Q = mlmd_pb.LineageSubgraphQueryOptions
        options = Q(
            starting_artifacts=Q.StartingNodes(filter_query=f"id = {artifact_id}"),
            max_num_hops=100,
            direction=Q.UPSTREAM,
        )
        return len(self.store.get_lineage_subgraph(options).artifacts)

    upstream_mlmd_style = upstream


# ---------------------------------------------------------------------------------------- scenarios


def workload(bench: Any, runs: int, steps: int) -> dict[str, float]:
    finals = []
    start = time.perf_counter()
    for run in range(runs):
        artifact = bench.new_source(run)
        for k in range(steps):
            artifact = bench.step_once(run, k, artifact)
        finals.append(artifact.id)
    elapsed = time.perf_counter() - start
    sample = finals[: min(len(finals), 50)]
    return {
        "put_execution steps/s": runs * steps / elapsed,
        "artifacts by type (ms)": timed(bench.by_type) * 1000,
        "executions by context (ms)": timed(lambda: bench.by_context(runs // 2), 20) * 1000,
        "filter query (ms)": timed(bench.by_filter, 5) * 1000,
        f"upstream lineage, {steps} steps (ms)": timed(lambda: [bench.upstream(a) for a in sample])
        * 1000
        / len(sample),
    }


def deep_lineage(bench: Any, depth: int, repeat: int) -> dict[str, float]:
    finals = []
    for run in range(repeat):
        artifact = bench.new_source(run)
        for k in range(depth):
            artifact = bench.step_once(run, k, artifact)
        finals.append(artifact.id)
    assert bench.upstream(finals[0]) == depth + 1
    per_call = timed(lambda: [bench.upstream(a) for a in finals]) / len(finals)
    styled = timed(lambda: [bench.upstream_mlmd_style(a) for a in finals]) / len(finals)
    return {
        f"upstream lineage {depth} deep (ms)": per_call * 1000,
        "  same, MLMD-style call (ms)": styled * 1000,
    }


def chain(url: str | None, length: int) -> dict[str, float]:
    bench = MltrailBench(url)
    artifact = bench.new_source(0)
    for k in range(length):
        artifact = bench.step_once(0, k, artifact)
    assert bench.upstream(artifact.id) == length + 1
    return {
        f"{length}-step chain, whole upstream (ms)": timed(lambda: bench.upstream(artifact.id))
        * 1000
    }


def big_filter(url: str | None, count: int) -> dict[str, float]:
    """``count`` artifacts in 100 runs; filter on a property and a context neighbour."""
    store = mltrail.connect(url)
    P = mltrail.PropertyType
    data = store.put_artifact_type(mltrail.ArtifactType(name="Data", properties={"acc": P.DOUBLE}))
    step = store.put_execution_type(mltrail.ExecutionType(name="Step"))
    run = store.put_context_type(mltrail.ContextType(name="Run"))
    per_run = count // 100
    for r in range(100):
        artifacts = [
            Artifact(type_id=data, uri=f"/r{r}/{i}", properties={"acc": (i % 1000) / 1000})
            for i in range(per_run)
        ]
        store.put_lineage_subgraph(
            [Execution(type_id=step)],
            artifacts,
            [Context(type_id=run, name=f"run-{r}")],
            [],
        )
    query = "properties.acc > 0.99 AND contexts_r.name = 'run-42'"
    found = store.get_artifacts(filter_query=query)
    assert len(found) == per_run * 9 // 1000, len(found)
    return {
        f"filter over {count // 1000}k artifacts: property + context (ms)": timed(
            lambda: store.get_artifacts(filter_query=query), 5
        )
        * 1000
    }


def compare(rows: dict[str, dict[str, float]]) -> None:
    systems = list(rows)
    keys = list(dict.fromkeys(k for values in rows.values() for k in values))
    width = max(len(k) for k in keys)
    print(
        f"{'':<{width}}  "
        + "  ".join(f"{s:>12}" for s in systems)
        + ("  ratio" if len(systems) == 2 else "")
    )
    for key in keys:
        values = [rows[s].get(key) for s in systems]
        cells = "  ".join(f"{v:>12.3f}" if v is not None else f"{'—':>12}" for v in values)
        ratio = ""
        if len(values) == 2 and None not in values:
            a, b = values  # mltrail, MLMD
            assert a is not None and b is not None
            better = a / b if key.endswith("/s") else b / a
            ratio = f"  {better:5.1f}×"
        print(f"{key:<{width}}  {cells}{ratio}")


def run_backend(backend: str, tmp: str, args: argparse.Namespace) -> None:
    def location(name: str) -> str | None:
        return None if backend == "memory" else os.path.join(tmp, name)

    def url(name: str) -> str | None:
        path = location(name)
        return f"sqlite:///{path}" if path else None

    label = "in memory" if backend == "memory" else "file (mltrail in WAL mode)"
    print(f"\n== SQLite {label} ==")
    rows: dict[str, dict[str, float]] = {"mltrail": {}}
    if ml_metadata is not None:
        rows["MLMD 1.17"] = {}
    if args.only in (None, "workload"):
        rows["mltrail"].update(workload(MltrailBench(url("w.db")), args.runs, args.steps))
        if ml_metadata is not None:
            rows["MLMD 1.17"].update(workload(MlmdBench(location("w.mlmd")), args.runs, args.steps))
    if args.only in (None, "lineage"):
        rows["mltrail"].update(deep_lineage(MltrailBench(url("l.db")), 10, 50))
        if ml_metadata is not None:
            rows["MLMD 1.17"].update(deep_lineage(MlmdBench(location("l.mlmd")), 10, 50))
    if args.only in (None, "chain"):
        rows["mltrail"].update(chain(url("c.db"), 1000))
    if args.only in (None, "filter"):
        rows["mltrail"].update(big_filter(url("f.db"), 100_000))
    compare(rows)


def run_server(url: str, args: argparse.Namespace) -> None:
    """The mltrail scenarios on a server database (PostgreSQL, MySQL/MariaDB)."""
    database = Database(url)
    try:
        print(f"\n== {database.description} (mltrail only) ==")
        if not args.wipe and _holds_mltrail_data(database):
            raise SystemExit(
                f"{database.description} holds mltrail data, and the benchmark drops mltrail's "
                "tables before each scenario: give a scratch database, or pass --wipe"
            )

        def fresh(_name: str) -> str:
            schema.metadata.drop_all(database.engine)
            return url

        rows: dict[str, dict[str, float]] = {"mltrail": {}}
        if args.only in (None, "workload"):
            rows["mltrail"].update(workload(MltrailBench(fresh("w")), args.runs, args.steps))
        if args.only in (None, "lineage"):
            rows["mltrail"].update(deep_lineage(MltrailBench(fresh("l")), 10, 50))
        if args.only in (None, "chain"):
            rows["mltrail"].update(chain(fresh("c"), 1000))
        if args.only in (None, "filter"):
            rows["mltrail"].update(big_filter(fresh("f"), 100_000))
        compare(rows)
        schema.metadata.drop_all(database.engine)
    finally:
        database.close()


def _holds_mltrail_data(database: Database) -> bool:
    with database.connection() as conn:
        if not sa.inspect(conn).has_table(schema.artifact.name):
            return False
        return conn.execute(sa.select(schema.artifact.c.id).limit(1)).first() is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--backend", choices=["memory", "file", "both"], default="both")
    parser.add_argument("--only", choices=["workload", "lineage", "chain", "filter"], default=None)
    parser.add_argument(
        "--url",
        help="run mltrail's scenarios on this server database instead of SQLite (a scratch "
        "database: its mltrail tables are dropped before each scenario)",
    )
    parser.add_argument(
        "--wipe", action="store_true", help="with --url: drop mltrail data found in the database"
    )
    args = parser.parse_args()
    command = "python benchmarks/pipeline.py"
    if args.url:
        run_server(args.url, args)
        shown = make_url(args.url).render_as_string(hide_password=True)
        command += f" --url {shown}"
    else:
        for backend in ["memory", "file"] if args.backend == "both" else [args.backend]:
            with tempfile.TemporaryDirectory() as tmp:
                run_backend(backend, tmp, args)
        if ml_metadata is None:
            print("\n(ml_metadata is not installed: only mltrail was measured)")
    print(f"\ncommand: {command} (Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
