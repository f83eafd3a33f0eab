"""What holding Python's cycle collector off while answers are built buys (readers.CollectorPaused).

Reads that build many objects, with the pause and without it, alternated round by round in one
process (CPU time per call, five calls in a row, medians): a listing of every artifact of a
type (N artifacts with two properties each), the upstream lineage of the last artifact of a
chain of N steps, and benchmarks/lineage.py's answer of 1000 contexts (always SQLite in
memory). The answers with and without the pause are compared for equality before timing.

    python benchmarks/collector.py
    python benchmarks/collector.py --url postgresql://postgres@127.0.0.1/mltrail_bench

With ``--url`` the database's mltrail tables are dropped before and after: give a scratch one.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import lineage  # benchmarks/lineage.py: its shared-source workload

import mltrail
from mltrail.backends.sql import schema
from mltrail.backends.sql.database import Database
from mltrail.query import _subgraph
from mltrail.store import _listing

T = mltrail.EventType
#: Calls in a row per round and variant (each answer dropped before the next, as a loop over
#: many questions does).
CALLS = 5
PAUSES = {"paused": (_listing.CollectorPaused, _subgraph.readers.CollectorPaused)}
PAUSES["not paused"] = (contextlib.nullcontext, contextlib.nullcontext)  # type: ignore[assignment]


def use(name: str) -> None:
    """Swap the pause in or out where listings and lineage answers take it."""
    listing, answers = PAUSES[name]
    _listing.CollectorPaused = listing  # type: ignore[misc]
    _subgraph.readers.CollectorPaused = answers  # type: ignore[misc]


def fill(store: mltrail.MetadataStore, count: int) -> int:
    """``count`` artifacts of type ``D`` in a chain of ``count`` steps; the last one's id."""
    P = mltrail.PropertyType
    data = store.put_artifact_type(
        mltrail.ArtifactType(name="D", properties={"rows": P.INT, "acc": P.DOUBLE})
    )
    step = store.put_execution_type(mltrail.ExecutionType(name="S"))
    [previous] = store.put_artifacts([mltrail.Artifact(type_id=data, uri="/d/0")])
    for i in range(1, count):
        output = mltrail.Artifact(type_id=data, uri=f"/d/{i}", properties={"rows": i, "acc": i / 3})
        _, [_, previous], _ = store.put_execution(
            mltrail.Execution(type_id=step),
            [
                (mltrail.Artifact(id=previous, type_id=data), mltrail.Event(type=T.INPUT)),
                (output, mltrail.Event(type=T.OUTPUT)),
            ],
            [],
        )
    return int(previous)


def measure(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, list[float]]] = {n: {p: [] for p in PAUSES} for n in calls}
    for _ in range(rounds):
        for pause in PAUSES:  # alternated
            use(pause)
            for name, call in calls.items():
                start = time.process_time()
                for _ in range(CALLS):
                    call()
                results[name][pause].append((time.process_time() - start) * 1000 / CALLS)
    use("paused")
    return {n: {p: statistics.median(t) for p, t in by.items()} for n, by in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--url", help="a scratch database (default: SQLite in memory)")
    args = parser.parse_args()

    def fresh() -> None:
        if args.url:
            database = Database(args.url)
            schema.metadata.drop_all(database.engine)
            database.close()

    fresh()
    try:
        with mltrail.connect(args.url) as store:
            last = fill(store, args.count)
            shared = lineage.MltrailSide(None)  # SQLite in memory, as benchmarks/lineage.py
            final = lineage.record(shared, 1000, 5, shared=True)[-1]
            calls = {
                f"all {args.count} artifacts of a type": lambda: store.get_artifacts_by_type("D"),
                f"upstream of a {args.count - 1}-step chain": lambda: store.get_provenance(last),
                "lineage, answer of 1000 contexts": lambda: shared.upstream(final, 10),
            }
            for name, call in calls.items():
                use("not paused")
                without = call()
                use("paused")
                assert call() == without, name
            for name, by in measure(calls, args.rounds).items():
                paused, plain = by["paused"], by["not paused"]
                print(
                    f"{name:<40} paused {paused:7.2f} ms   not paused {plain:7.2f} ms   "
                    f"{plain / paused:4.2f}x"
                )
    finally:
        fresh()
    print(f"command: python {' '.join(sys.argv)} (Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
