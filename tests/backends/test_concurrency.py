"""Many processes logging pipeline steps into shared contexts at once, on every backend that
several processes can open: a SQLite file, PostgreSQL and MySQL/MariaDB.

Every step is a ``put_execution`` that creates an artifact and reuses two contexts by name
(``reuse_context_if_already_exist``), which all processes create and use at the same time. No
error may reach a caller: busy databases, deadlocks and serialization failures are retried, and a
context created by another process in the meantime is found and reused, never duplicated.
"""

from __future__ import annotations

import logging
import multiprocessing
import traceback
from typing import Any

import pytest
import sqlalchemy as sa

import mltrail
from _counting import counts
from _servers import SERVERS
from mltrail.backends.sql import schema
from mltrail.backends.sql.fast import FastStatement
from mltrail.errors import AlreadyExistsError

PROCESSES = 8
STEPS = 200
TOTAL = PROCESSES * STEPS
STAGES = 4  # each step is in the pipeline context and in one of the stage contexts
WAIT = 300  # seconds; only reached when a process died


def log(url: str, worker: int, start: Any, results: Any) -> None:
    """Worker process: once every worker is ready, log STEPS steps into the shared contexts."""
    try:
        with mltrail.connect(url) as store:
            start.wait(timeout=WAIT)
            p = mltrail.PropertyType
            # The types are put by every worker at once too (an idempotent get-or-create).
            step_type = store.put_execution_type(
                mltrail.ExecutionType(name="Step", properties={"i": p.INT})
            )
            output = store.put_artifact_type(mltrail.ArtifactType(name="Output"))
            pipeline = store.put_context_type(mltrail.ContextType(name="Pipeline"))
            stage = store.put_context_type(mltrail.ContextType(name="Stage"))
            done: list[tuple[int, int, list[int]]] = []
            for i in range(STEPS):
                execution_id, [artifact_id], context_ids = store.put_execution(
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
                    [
                        mltrail.Context(type_id=pipeline, name="shared"),
                        mltrail.Context(type_id=stage, name=f"stage-{i % STAGES}"),
                    ],
                    reuse_context_if_already_exist=True,
                )
                done.append((execution_id, artifact_id, context_ids))
        results.put((worker, "ok", done))
    except BaseException:
        results.put((worker, "error", traceback.format_exc()))


@pytest.mark.parametrize("backend", ["sqlite-file", *SERVERS], indirect=True)
def test_processes_logging_into_shared_contexts_lose_nothing(
    empty_url: str | None, capfd: pytest.CaptureFixture[str]
) -> None:
    assert empty_url is not None
    with mltrail.connect(empty_url) as store:  # the schema exists; the race to create it is
        assert store.get_contexts() == []  # tested in test_migrations.py
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(PROCESSES), ctx.Queue()
    processes = [
        ctx.Process(target=log, args=(empty_url, n, start, results)) for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes: dict[int, tuple[str, Any]] = {}
    try:
        for _ in processes:
            worker, status, value = results.get(timeout=WAIT)
            outcomes[worker] = (status, value)
    finally:
        for process in processes:
            process.join(timeout=WAIT)
    failures = [
        f"worker {n}:\n{value}" for n, (status, value) in outcomes.items() if status != "ok"
    ]
    assert not failures, "\n".join(failures)
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    # Errors the runner handled (and retried) leave no trace: no driver noise on stderr
    # (psycopg once logged "error ignored terminating <psycopg.Pipeline [INERROR]>" here).
    assert capfd.readouterr().err == ""

    done = {n: value for n, (_, value) in outcomes.items()}
    context_ids = {c for steps in done.values() for _, _, ids in steps for c in ids}
    assert len(context_ids) == 1 + STAGES  # every worker got the same contexts back
    with mltrail.connect(empty_url) as store:
        assert store.database.run(counts, write=False) == {
            "executions": TOTAL,
            "artifacts": TOTAL,
            "events": TOTAL,
            "associations": 2 * TOTAL,
            "attributions": 2 * TOTAL,
            "contexts": 1 + STAGES,
            "types": 4,
        }
        contexts = {c.name: c for c in store.get_contexts()}
        assert sorted(contexts) == sorted(["shared", *(f"stage-{s}" for s in range(STAGES))])
        assert {c.id for c in contexts.values()} == context_ids
        shared = contexts["shared"].id
        assert shared is not None
        names = {e.name for e in store.get_executions_by_context(shared)}
        assert names == {f"w{n}-{i}" for n in range(PROCESSES) for i in range(STEPS)}
        for s in range(STAGES):
            stage_id = contexts[f"stage-{s}"].id
            assert stage_id is not None
            in_stage = {e.name for e in store.get_executions_by_context(stage_id)}
            assert in_stage == {
                f"w{n}-{i}" for n in range(PROCESSES) for i in range(STEPS) if i % STAGES == s
            }
        for n, steps in done.items():
            artifacts = store.get_artifacts_by_id([a for _, a, _ in steps])
            assert [a.uri for a in artifacts] == [f"/out/w{n}/{i}" for i in range(STEPS)]
            events = store.get_events_by_execution_ids([e for e, _, _ in steps])
            assert sorted((e.execution_id, e.artifact_id) for e in events) == sorted(
                (e, a) for e, a, _ in steps
            )


def test_a_failing_batch_raises_one_typed_error_and_logs_nothing(
    store: mltrail.MetadataStore,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A batch (executemany) whose rows collide with a unique key, through mltrail's fast
    # statements and through SQLAlchemy: typed errors, nothing committed, no driver log
    # records (in a test they go to pytest's log capture; elsewhere to stderr) and a clean
    # stderr.
    rows = [{"kind": 1, "name": "T", "version": ""}] * 2 + [
        {"kind": 1, "name": f"T{i}", "version": ""} for i in range(300)
    ]
    statement = FastStatement(
        sa.insert(schema.type_).values(
            kind=sa.bindparam("kind"), name=sa.bindparam("name"), version=sa.bindparam("version")
        )
    )
    with pytest.raises(AlreadyExistsError):
        store.database.run(lambda conn: statement.execute_many(conn, rows), write=True)
    store.put_artifact_type(mltrail.ArtifactType(name="A"))
    store.put_artifact_type(mltrail.ArtifactType(name="B"))
    renames = [{"new": "C", "old": "A"}, {"new": "C", "old": "B"}] + [
        {"new": f"X{i}", "old": f"none{i}"} for i in range(300)
    ]
    rename = (
        sa.update(schema.type_)
        .where(schema.type_.c.name == sa.bindparam("old"))
        .values(name=sa.bindparam("new"))
    )
    with pytest.raises(AlreadyExistsError):
        store.database.run(lambda conn: conn.execute(rename, renames), write=True)
    assert sorted(t.name for t in store.get_artifact_types()) == ["A", "B"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert capfd.readouterr().err == ""
