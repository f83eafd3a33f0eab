"""Several processes (and threads) writing to one SQLite file at once, with a reader alongside.

The workers are module-level functions so that processes started with ``spawn`` can import them.
Nothing here sleeps to order events: the writers pause halfway until the reader has seen their
work in progress, which guarantees that reading and writing overlap.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest

import mltrail
from _counting import counts

WRITERS = 3
STEPS = 300
TOTAL = WRITERS * STEPS
SHARED = "shared"
WAIT = 120  # seconds; only reached when another process died


def log_steps(
    store: mltrail.MetadataStore, worker: int, steps: range, pause: Any = None
) -> dict[str, Any]:
    """Log ``steps`` pipeline steps: an execution writing a new artifact, in the shared context."""
    p = mltrail.PropertyType
    step_type = store.put_execution_type(
        mltrail.ExecutionType(name="Step", properties={"i": p.INT})
    )
    output = store.put_artifact_type(mltrail.ArtifactType(name="Output"))
    pipeline = store.put_context_type(mltrail.ContextType(name="Pipeline"))
    executions, artifacts, contexts = [], [], set()
    for i in steps:
        if pause is not None and i == steps.start + len(steps) // 2:
            pause()
        execution_id, [artifact_id], [context_id] = store.put_execution(
            mltrail.Execution(
                type_id=step_type,
                name=f"w{worker}-{i}",
                last_known_state=mltrail.ExecutionState.COMPLETE,
                properties={"i": i},
            ),
            [
                (
                    mltrail.Artifact(type_id=output, uri=f"/out/w{worker}/{i}"),
                    mltrail.Event(type=mltrail.EventType.OUTPUT),
                )
            ],
            [mltrail.Context(type_id=pipeline, name=SHARED)],
            reuse_context_if_already_exist=True,
        )
        executions.append(execution_id)
        artifacts.append(artifact_id)
        contexts.add(context_id)
    return {"executions": executions, "artifacts": artifacts, "contexts": contexts}


# ------------------------------------------------------------------------------ processes


def writer(url: str, worker: int, start: Any, reader_saw_progress: Any, results: Any) -> None:
    """Worker process: wait for the others, then log STEPS steps; pause halfway until the reader
    has seen writes in progress."""
    try:
        with mltrail.connect(url) as store:
            start.wait(timeout=WAIT)

            def pause() -> None:
                if not reader_saw_progress.wait(timeout=WAIT):
                    raise TimeoutError("the reader never saw the writers' progress")

            done = log_steps(store, worker, range(STEPS), pause)
        results.put((f"writer {worker}", "ok", done))
    except BaseException:
        results.put((f"writer {worker}", "error", traceback.format_exc()))


def reader(url: str, start: Any, reader_saw_progress: Any, stop: Any, results: Any) -> None:
    """Worker process: list and count until told to stop; every snapshot must be consistent."""
    try:
        with mltrail.connect(url) as store:
            start.wait(timeout=WAIT)
            reads = in_progress = 0
            listed = 0
            while True:
                finished = stop.is_set()
                seen = store.database.run(counts, write=False)
                # Each put_execution adds one of each, atomically: a snapshot never shows half.
                per_step = {seen[k] for k in ("executions", "artifacts", "events")}
                per_step |= {seen["associations"], seen["attributions"]}
                if len(per_step) != 1:
                    raise AssertionError(f"a reader saw half a put_execution: {seen}")
                if seen["contexts"] != (1 if seen["executions"] else 0):
                    raise AssertionError(f"a reader saw {seen['contexts']} contexts: {seen}")
                executions = store.get_executions()
                if len(executions) < max(listed, seen["executions"]):
                    raise AssertionError(f"executions went missing: {len(executions)} < {listed}")
                listed = len(executions)
                contexts = store.get_contexts()
                if [c.name for c in contexts] not in ([], [SHARED]):
                    raise AssertionError(f"contexts: {contexts}")
                if 0 < seen["executions"] < TOTAL:
                    in_progress += 1
                    reader_saw_progress.set()
                reads += 1
                if finished:
                    break
        results.put(("reader", "ok", {"reads": reads, "in_progress": in_progress, "last": seen}))
    except BaseException:
        results.put(("reader", "error", traceback.format_exc()))


def test_processes_writing_one_file_at_once_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    with mltrail.connect(url) as store:  # created up front: the race to create is tested elsewhere
        assert store.schema_version >= 1
    ctx = multiprocessing.get_context("spawn")
    start, saw, stop, results = ctx.Barrier(WRITERS + 1), ctx.Event(), ctx.Event(), ctx.Queue()
    processes = [
        ctx.Process(target=writer, args=(url, n, start, saw, results)) for n in range(WRITERS)
    ]
    processes.append(ctx.Process(target=reader, args=(url, start, saw, stop, results)))
    for process in processes:
        process.start()
    outcomes: dict[str, tuple[str, Any]] = {}
    try:
        while len(outcomes) < len(processes):
            who, status, value = results.get(timeout=WAIT)
            outcomes[who] = (status, value)
            if status != "ok":
                saw.set()  # let the others finish and report
            if all(f"writer {n}" in outcomes for n in range(WRITERS)):
                stop.set()
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=WAIT)
    errors = [f"{who}:\n{value}" for who, (status, value) in outcomes.items() if status != "ok"]
    assert not errors, "\n".join(errors)
    assert [p.exitcode for p in processes] == [0] * len(processes)

    reads = outcomes["reader"][1]
    assert reads["reads"] >= 2 and reads["in_progress"] >= 1, reads
    done = [outcomes[f"writer {n}"][1] for n in range(WRITERS)]
    assert len({c for d in done for c in d["contexts"]}) == 1
    execution_ids = [i for d in done for i in d["executions"]]
    artifact_ids = [i for d in done for i in d["artifacts"]]
    assert len(set(execution_ids)) == len(execution_ids) == TOTAL
    assert len(set(artifact_ids)) == len(artifact_ids) == TOTAL

    with mltrail.connect(url) as store:
        assert store.database.run(counts, write=False) == {
            "executions": TOTAL,
            "artifacts": TOTAL,
            "events": TOTAL,
            "associations": TOTAL,
            "attributions": TOTAL,
            "contexts": 1,
            "types": 3,
        }
        [context] = store.get_contexts()
        assert context.name == SHARED and {context.id} == done[0]["contexts"]
        assert context.id is not None
        names = {e.name for e in store.get_executions_by_context(context.id)}
        assert names == {f"w{n}-{i}" for n in range(WRITERS) for i in range(STEPS)}
        for n, d in enumerate(done):
            artifacts = store.get_artifacts_by_id(d["artifacts"])
            assert [a.uri for a in artifacts] == [f"/out/w{n}/{i}" for i in range(STEPS)]
            events = store.get_events_by_execution_ids(d["executions"])
            assert sorted((e.execution_id, e.artifact_id) for e in events) == sorted(
                zip(d["executions"], d["artifacts"])
            )
        assert reads["last"]["executions"] == TOTAL  # the reader's last look saw everything


# ------------------------------------------------------------------------------ threads


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_threads_sharing_one_store_lose_nothing(kind: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'threads.db'}" if kind == "file" else None
    threads, steps = 4, 100
    failures: list[str] = []
    done: list[dict[str, Any]] = []
    start = threading.Barrier(threads)
    with mltrail.connect(url) as store:

        def work(worker: int) -> None:
            try:
                start.wait(timeout=WAIT)
                done.append(log_steps(store, worker, range(steps)))
            except BaseException:
                failures.append(traceback.format_exc())

        running = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join(timeout=WAIT)
        assert not failures, "\n".join(failures)
        total = threads * steps
        seen = store.database.run(counts, write=False)
        assert seen == {
            "executions": total,
            "artifacts": total,
            "events": total,
            "associations": total,
            "attributions": total,
            "contexts": 1,
            "types": 3,
        }
        assert len({c for d in done for c in d["contexts"]}) == 1
