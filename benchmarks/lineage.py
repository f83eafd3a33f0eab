"""Lineage answers on mltrail and (when installed) on Google's ML Metadata, side by side.

Workload: RUNS runs of STEPS steps; each step is one ``put_execution`` with one input artifact
(the previous step's output, or the run's source for the first step), one new output and the
run's context (reused by name). Scenarios:

- ``shared``: every run starts from one shared source dataset, so the source is attributed to
  every run's context and an upstream answer from any final artifact carries RUNS contexts;
- ``few``: every run has its own source, so an answer carries one context;
- ``chain`` (mltrail only): one chain of CHAIN steps answered whole, the first call of a fresh
  process (statements not compiled yet) and the steady calls after it.

The lineage question is MLMD's ``get_lineage_subgraph`` upstream from a final artifact chosen by
a filter (``id = N``), ``max_num_hops = 2 * STEPS``. Both systems' answers are compared (node
sets, events, memberships and types by name) before anything is timed. Rounds alternate
(mltrail, MLMD, mltrail, ...) and medians are reported; on SQLite in memory they measure the
process's CPU time by default (both systems run in this process, and CPU time is steadier than
elapsed time on a machine shared with other work).

    python benchmarks/lineage.py                      # SQLite in memory, both scenarios
    python benchmarks/lineage.py --runs 200 --only few
    python benchmarks/lineage.py --url postgresql://postgres@127.0.0.1/mltrail_bench_lineage

With ``--url`` the scenarios run on that server database (mltrail only); its mltrail tables are
dropped before each scenario and at the end, so give a scratch database.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import mltrail
from mltrail import Artifact, Context, Event, EventType, Execution, ExecutionState
from mltrail.backends.sql import schema
from mltrail.backends.sql.database import Database

try:  # optional: the system we compare with
    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2 as mlmd_pb
except ImportError:  # pragma: no cover - depends on the machine
    ml_metadata = None


class MltrailSide:
    name = "mltrail"

    def __init__(self, url: str | None) -> None:
        self.store = mltrail.connect(url)
        P = mltrail.PropertyType
        self.data = self.store.put_artifact_type(
            mltrail.ArtifactType(name="Data", properties={"rows": P.INT})
        )
        self.step = self.store.put_execution_type(
            mltrail.ExecutionType(name="Step", properties={"lr": P.DOUBLE})
        )
        self.run = self.store.put_context_type(mltrail.ContextType(name="Run"))

    def source(self, name: str) -> Any:
        artifact = Artifact(type_id=self.data, uri=f"/d/{name}", properties={"rows": 1})
        [artifact.id] = self.store.put_artifacts([artifact])
        return artifact

    def step_once(self, run: int, k: int, previous: Any) -> Any:
        output = Artifact(type_id=self.data, uri=f"/d/{run}/{k + 1}", properties={"rows": k})
        execution = Execution(
            type_id=self.step,
            name=f"{run}/{k}",
            last_known_state=ExecutionState.COMPLETE,
            properties={"lr": 0.1},
        )
        _, ids, _ = self.store.put_execution(
            execution,
            [(previous, Event(type=EventType.INPUT)), (output, Event(type=EventType.OUTPUT))],
            [Context(type_id=self.run, name=f"run-{run}")],
            reuse_context_if_already_exist=True,
        )
        output.id = ids[1]
        return output

    def upstream(self, artifact_id: int, hops: int) -> Any:
        options = mltrail.LineageSubgraphQueryOptions(
            starting_artifacts=mltrail.StartingNodes(filter_query=f"id = {artifact_id}"),
            direction=mltrail.LineageDirection.UPSTREAM,
            max_num_hops=hops,
        )
        return self.store.get_lineage_subgraph(options)


class MlmdSide:
    name = "MLMD 1.17"

    def __init__(self) -> None:
        assert ml_metadata is not None
        config = mlmd_pb.ConnectionConfig()
        config.fake_database.SetInParent()
        self.store = ml_metadata.MetadataStore(config)
        self.data = self.store.put_artifact_type(
            mlmd_pb.ArtifactType(name="Data", properties={"rows": mlmd_pb.INT})
        )
        self.step = self.store.put_execution_type(
            mlmd_pb.ExecutionType(name="Step", properties={"lr": mlmd_pb.DOUBLE})
        )
        self.run = self.store.put_context_type(mlmd_pb.ContextType(name="Run"))

    def source(self, name: str) -> Any:
        artifact = mlmd_pb.Artifact(
            type_id=self.data, uri=f"/d/{name}", properties={"rows": mlmd_pb.Value(int_value=1)}
        )
        [artifact.id] = self.store.put_artifacts([artifact])
        return artifact

    def step_once(self, run: int, k: int, previous: Any) -> Any:
        output = mlmd_pb.Artifact(
            type_id=self.data,
            uri=f"/d/{run}/{k + 1}",
            properties={"rows": mlmd_pb.Value(int_value=k)},
        )
        execution = mlmd_pb.Execution(
            type_id=self.step,
            name=f"{run}/{k}",
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

    def upstream(self, artifact_id: int, hops: int) -> Any:
        Q = mlmd_pb.LineageSubgraphQueryOptions
        options = Q(
            starting_artifacts=Q.StartingNodes(filter_query=f"id = {artifact_id}"),
            max_num_hops=hops,
            direction=Q.UPSTREAM,
        )
        return self.store.get_lineage_subgraph(options)


def record(side: Any, runs: int, steps: int, shared: bool) -> list[int]:
    """The workload; returns the final artifact of every run."""
    finals = []
    common = side.source("shared") if shared else None
    for run in range(runs):
        artifact = common if shared else side.source(f"{run}/0")
        for k in range(steps):
            artifact = side.step_once(run, k, artifact)
        finals.append(artifact.id)
    return finals


def summary(graph: Any) -> dict[str, Any]:
    """A lineage answer by names, comparable between the two systems."""
    uri = {a.id: a.uri for a in graph.artifacts}
    execution = {e.id: e.name for e in graph.executions}
    context = {c.id: c.name for c in graph.contexts}
    return {
        "artifacts": sorted(uri.values()),
        "executions": sorted(execution.values()),
        "contexts": sorted(context.values()),
        "events": sorted(
            (uri[e.artifact_id], execution[e.execution_id], int(e.type)) for e in graph.events
        ),
        "attributions": sorted(
            (uri[m.artifact_id], context[m.context_id]) for m in graph.attributions
        ),
        "associations": sorted(
            (execution[m.execution_id], context[m.context_id]) for m in graph.associations
        ),
        "types": sorted(
            t.name for t in [*graph.artifact_types, *graph.execution_types, *graph.context_types]
        ),
    }


def alternate(
    calls: dict[str, Callable[[], Any]], rounds: int, clock: Callable[[], float]
) -> dict[str, float]:
    """Median ms per call of each system, rounds alternated between systems."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = clock()
            call()
            samples[name].append((clock() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def scenario(args: argparse.Namespace, shared: bool) -> None:
    label = "shared source" if shared else "a source per run"
    hops = 2 * args.steps
    sides: list[Any] = [MltrailSide(args.url)]
    if ml_metadata is not None and args.url is None:
        sides.append(MlmdSide())
    finals = {side.name: record(side, args.runs, args.steps, shared) for side in sides}
    positions = range(0, args.runs, max(1, args.runs // 20))
    samples = {name: [ids[p] for p in positions] for name, ids in finals.items()}
    answer = sides[0].upstream(samples["mltrail"][0], hops)
    if len(sides) == 2:
        for mine_id, theirs_id in zip(samples["mltrail"], samples["MLMD 1.17"]):
            mine = summary(sides[0].upstream(mine_id, hops))
            theirs = summary(sides[1].upstream(theirs_id, hops))
            if mine != theirs:
                diff = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}
                raise SystemExit(f"answers differ from artifact {mine_id}: {diff}")

    def calls_of(side: Any) -> Callable[[], Any]:
        return lambda: [side.upstream(a, hops) for a in samples[side.name]]

    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    medians = alternate({side.name: calls_of(side) for side in sides}, args.rounds, clock)
    per_call = {name: value / len(positions) for name, value in medians.items()}
    line = "  ".join(f"{name} {value:7.3f} ms" for name, value in per_call.items())
    ratio = ""
    if len(per_call) == 2:
        ratio = f"  ratio {per_call['MLMD 1.17'] / per_call['mltrail']:5.1f}x"
    print(
        f"{label:<18} {args.runs} runs x {args.steps} steps, answer of {len(answer.artifacts)} "
        f"artifacts / {len(answer.contexts)} contexts ({args.clock} time): {line}{ratio}"
    )


_FIRST_CALL = """
import json, sys, time
import mltrail
store = mltrail.connect(sys.argv[1] if sys.argv[1] != "-" else None)
final = int(sys.argv[2])
start = time.perf_counter()
first = store.get_provenance(final)
first_ms = (time.perf_counter() - start) * 1000
steady = []
for _ in range(5):
    start = time.perf_counter()
    store.get_provenance(final)
    steady.append((time.perf_counter() - start) * 1000)
print(json.dumps({"first": first_ms, "steady": sorted(steady)[2], "nodes": len(first.artifacts)}))
"""


def chain(args: argparse.Namespace, tmp: str) -> None:
    url = args.url or f"sqlite:///{tmp}/chain.db"
    side = MltrailSide(url)
    artifact = side.source("chain")
    for k in range(args.chain):
        artifact = side.step_once(0, k, artifact)
    side.store.close()
    results = []
    for _ in range(args.first_rounds):
        out = subprocess.run(
            [sys.executable, "-c", _FIRST_CALL, url, str(artifact.id)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(out.stdout))
    assert all(r["nodes"] == args.chain + 1 for r in results), results
    first = statistics.median(r["first"] for r in results)
    steady = statistics.median(r["steady"] for r in results)
    where = "SQLite file" if args.url is None else Database(url).description
    print(
        f"{args.chain}-step chain, whole upstream, {where}: first call of a process "
        f"{first:.1f} ms, then {steady:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--chain", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--first-rounds", type=int, default=5)
    parser.add_argument("--only", choices=["shared", "few", "chain"], default=None)
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default=None,
        help="cpu: the process's CPU time (both systems run in it; steadier on a shared "
        "machine), the default on SQLite in memory; wall: elapsed time, the default with --url",
    )
    parser.add_argument("--url", help="a scratch server database (its mltrail tables are dropped)")
    args = parser.parse_args()
    if args.clock is None:
        args.clock = "wall" if args.url else "cpu"

    def fresh() -> None:
        if args.url:
            database = Database(args.url)
            schema.metadata.drop_all(database.engine)
            database.close()

    with tempfile.TemporaryDirectory() as tmp:
        for name in ("shared", "few", "chain"):
            if args.only in (None, name):
                fresh()
                if name == "chain":
                    chain(args, tmp)
                else:
                    scenario(args, shared=name == "shared")
        fresh()
    if ml_metadata is None:
        print("(ml_metadata is not installed: only mltrail was measured)")
    print(f"command: python {' '.join(sys.argv)} (Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
