"""Two server processes on one PostgreSQL database, eight client processes writing pipeline
steps into shared contexts through them: no error, no duplicate, nothing lost."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import mltrail as m
from _remote import RemoteServer
from _servers import Server, need

CLIENTS = 8
STEPS = 200
CONTEXTS = 3


def _client(url: str, worker: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    try:
        with m.connect(url) as store:
            at = store.put_artifact_type(m.ArtifactType(name="Data"))
            et = store.put_execution_type(m.ExecutionType(name="Step"))
            ct = store.put_context_type(m.ContextType(name="Run"))
            previous = None
            for step in range(STEPS):
                inputs = [(previous, m.Event(type=m.EventType.INPUT))] if previous else []
                output = m.Artifact(type_id=at, uri=f"/w{worker}/s{step}")
                _, ids, _ = store.put_execution(
                    m.Execution(type_id=et, name=f"w{worker}-s{step}"),
                    [*inputs, (output, m.Event(type=m.EventType.OUTPUT))],
                    [m.Context(type_id=ct, name=f"run-{step % CONTEXTS}")],
                    reuse_context_if_already_exist=True,
                )
                [previous] = store.get_artifacts_by_id([ids[-1]])
        results.put((worker, None))
    except BaseException as exc:  # reported to the test, which fails with it
        results.put((worker, f"{type(exc).__name__}: {exc}"))


def test_two_servers_and_eight_clients_on_one_postgresql(
    servers: dict[str, Server], tmp_path: Path
) -> None:
    database = servers["postgresql"]
    need(database)
    url = database.new_database("replicas")
    replicas = [RemoteServer(url, tmp_path / f"replica{i}") for i in range(2)]
    try:
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        processes = [
            context.Process(target=_client, args=(replicas[i % 2].url, i, results))
            for i in range(CLIENTS)
        ]
        for process in processes:
            process.start()
        outcomes = dict(results.get(timeout=600) for _ in processes)
        for process in processes:
            process.join(timeout=60)
        assert outcomes == {i: None for i in range(CLIENTS)}
        with m.connect(url) as store:
            executions = store.get_executions()
            assert len(executions) == CLIENTS * STEPS
            assert len({e.name for e in executions}) == CLIENTS * STEPS
            artifacts = store.get_artifacts()
            assert len(artifacts) == CLIENTS * STEPS
            assert len({a.uri for a in artifacts}) == CLIENTS * STEPS
            contexts = store.get_contexts()
            assert sorted(c.name for c in contexts) == [f"run-{i}" for i in range(CONTEXTS)]
            members = sum(len(store.get_executions_by_context(c.id)) for c in contexts)
            assert members == CLIENTS * STEPS
            events = store.get_events_by_execution_ids([e.id for e in executions])
            assert len(events) == CLIENTS * STEPS * 2 - CLIENTS  # every step but the first reads
            assert [t.name for t in store.get_artifact_types()] == ["Data"]
    finally:
        for replica in replicas:
            replica.close()
