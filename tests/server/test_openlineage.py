"""The OpenLineage endpoint (POST /api/v1/lineage) of a real server with authentication, fed by
OpenLineage's own Python client, and refusing what it must."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from server_helpers import AuthServer

import mltrail as m
from _servers import need_module
from mltrail.compat.openlineage import JOB_CONTEXT_TYPE, RUN_CONTEXT_TYPE

PRODUCER = "https://example.org/mltrail-tests"


def client_of(server: AuthServer, token: str | None, project: str | None = None) -> Any:
    """OpenLineage's client, sending over HTTP to ``server`` with ``token`` (its API key)."""
    need_module("openlineage.client")
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    endpoint = f"p/{project}/api/v1/lineage" if project else "api/v1/lineage"
    config = HttpConfig(
        url=server.url,
        endpoint=endpoint,
        auth=ApiKeyTokenProvider({"apiKey": token or ""}),
        retry={"total": 0},
    )
    return OpenLineageClient(transport=HttpTransport(config))


def run_events(run_id: str, parent_id: str) -> list[Any]:
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent
    from openlineage.client.event_v2 import RunState as State
    from openlineage.client.facet_v2 import output_statistics_output_dataset, parent_run, sql_job

    parent = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent_id),
        job=parent_run.Job(namespace="airflow", name="nightly"),
    )
    job = Job(
        namespace="airflow",
        name="nightly.clean",
        facets={"sql": sql_job.SQLJobFacet(query="INSERT INTO clean SELECT * FROM raw")},
    )
    stats = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=42)
    raw = InputDataset(namespace="postgres://db:5432", name="public.raw")
    clean = OutputDataset(
        namespace="postgres://db:5432",
        name="public.clean",
        outputFacets={"outputStatistics": stats},
    )
    run = Run(runId=run_id, facets={"parent": parent})
    return [
        RunEvent(
            eventType=state,
            eventTime=when,
            run=run,
            job=job,
            producer=PRODUCER,
            inputs=[raw],
            outputs=outputs,
        )
        for state, when, outputs in (
            (State.START, "2026-12-01T10:00:00Z", []),
            (State.COMPLETE, "2026-12-01T10:02:00Z", [clean]),
        )
    ]


def test_the_openlineage_client_records_a_run(auth_server: AuthServer) -> None:
    writer = auth_server.token("default", "writer")
    run_id, parent = str(uuid.uuid4()), str(uuid.uuid4())
    lineage = client_of(auth_server, writer)
    for sent in run_events(run_id, parent):
        lineage.emit(sent)
    with m.connect(auth_server.url, token=auth_server.admin) as store:
        [execution] = store.get_executions_by_external_ids([f"openlineage:run:{run_id}"])
        assert execution.type == "airflow/nightly.clean"
        assert execution.last_known_state == m.ExecutionState.COMPLETE
        assert execution.custom_properties["producer"] == PRODUCER
        assert execution.custom_properties["start_time"] == "2026-12-01T10:00:00Z"
        events = store.get_events_by_execution_ids([execution.id])
        by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        flows = {(by_id[e.artifact_id].uri, e.type) for e in events}
        assert flows == {
            ("postgres://db:5432/public.raw", m.EventType.INPUT),
            ("postgres://db:5432/public.clean", m.EventType.OUTPUT),
        }
        [clean] = [a for a in by_id.values() if a.uri.endswith("clean")]
        assert clean.custom_properties["output_facet.outputStatistics"]["rowCount"] == 42
        job = store.get_context_by_type_and_name(JOB_CONTEXT_TYPE, "airflow/nightly.clean")
        assert job is not None
        assert "INSERT INTO clean" in job.custom_properties["facet.sql"]["query"]
        own = store.get_context_by_type_and_name(RUN_CONTEXT_TYPE, run_id)
        dag = store.get_context_by_type_and_name(RUN_CONTEXT_TYPE, parent)
        assert own is not None and dag is not None
        assert dag.id in {c.id for c in store.get_parent_contexts_by_context(own.id)}
        before = len(store.get_artifacts()), len(store.get_contexts())
    for sent in run_events(run_id, parent):  # the producer sends them again: nothing is added
        lineage.emit(sent)
    with m.connect(auth_server.url, token=auth_server.admin) as store:
        assert (len(store.get_artifacts()), len(store.get_contexts())) == before
        assert len(store.get_events_by_execution_ids([execution.id])) == 2


def test_a_batch_and_another_project(auth_server: AuthServer) -> None:
    writer = auth_server.token("vision", "writer")
    with auth_server.client(auth_server.admin) as http:
        assert http.post("/api/v1/projects", json={"name": "vision"}).status_code in (201, 409)
    batch = [
        {
            "eventType": kind,
            "eventTime": "2026-12-01T11:00:00Z",
            "run": {"runId": run},
            "job": {"namespace": "spark", "name": "train"},
            "outputs": [{"namespace": "s3://bucket", "name": f"models/{run}"}],
        }
        for run in (str(uuid.uuid4()), str(uuid.uuid4()))
        for kind in ("START", "COMPLETE")
    ]
    with auth_server.client(writer) as http:
        answer = http.post("/p/vision/api/v1/lineage", json=batch)
        assert answer.status_code == 201, answer.text
        assert answer.json()["ingested"] == {
            "events": 4,
            "runs": 2,
            "new_runs": 2,
            "datasets": 2,
            "new_datasets": 2,
        }
    with m.connect(f"{auth_server.url}/p/vision", token=writer) as store:
        assert len(store.get_executions()) == 2
        assert {e.last_known_state for e in store.get_executions()} == {m.ExecutionState.COMPLETE}
    with m.connect(auth_server.url, token=auth_server.admin) as default:
        assert default.get_executions(filter_query="type = 'spark/train'") == []


@pytest.mark.parametrize("role", [None, "reader", "stranger"])
def test_only_writers_of_the_project_may_send(auth_server: AuthServer, role: str | None) -> None:
    token = None
    if role == "reader":
        token = auth_server.token("default", "reader")
    elif role == "stranger":
        token = auth_server.token("elsewhere", "admin")
    body = {
        "eventType": "START",
        "eventTime": "2026-12-01T12:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "refused", "name": role or "anonymous"},
    }
    with auth_server.client(token) as http:
        answer = http.post("/api/v1/lineage", json=body)
    expected = {None: (401, "UnauthenticatedError")}.get(role, (403, "PermissionDeniedError"))
    assert (answer.status_code, answer.json()["error"]) == expected
    with m.connect(auth_server.url, token=auth_server.admin) as store:
        assert store.get_executions(filter_query="type LIKE 'refused/%'") == []


def test_a_malformed_event_is_a_json_error_naming_it(auth_server: AuthServer) -> None:
    writer = auth_server.token("default", "writer")
    good = {
        "eventType": "START",
        "eventTime": "2026-12-01T13:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "bad", "name": "batch"},
    }
    bad = {**good, "run": {"runId": "not-a-uuid"}}
    with auth_server.client(writer) as http:
        answer = http.post("/api/v1/lineage", json=[good, bad])
        assert answer.status_code == 400
        error = answer.json()
        assert error["error"] == "InvalidArgumentError"
        assert "event #1.run.runId must be a UUID, got 'not-a-uuid'" in error["message"]
        assert "Traceback" not in answer.text
        garbage = http.post(
            "/api/v1/lineage", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert garbage.status_code == 400 and garbage.json()["error"] == "InvalidArgumentError"
    with m.connect(auth_server.url, token=auth_server.admin) as store:
        assert store.get_executions(filter_query="type = 'bad/batch'") == []


# ---------------------------------------------------------------------------------- emitting


def logged(store: m.MetadataStore) -> list[int]:
    """Three executions: one that read a dataset on S3 and wrote a model, one that failed, one
    still running."""
    store.put_artifact_type(m.ArtifactType(name="Dataset"))
    store.put_artifact_type(m.ArtifactType(name="Model"))
    store.put_execution_type(m.ExecutionType(name="Train"))
    flows = [
        (m.Artifact(type="Dataset", uri="s3://bucket/data/raw.csv"), m.Event(type="INPUT")),
        (m.Artifact(type="Model", uri="/models/m.pt"), m.Event(type="OUTPUT")),
    ]
    states = ("COMPLETE", "FAILED", "RUNNING")
    return [
        store.put_execution(m.Execution(type="Train", last_known_state=state), events, [])[0]
        for state, events in zip(states, (flows, [], []))
    ]


def test_executions_emitted_to_a_server_arrive_as_runs(auth_server: AuthServer) -> None:
    from mltrail.compat.openlineage import emit

    need_module("openlineage.client")
    writer = auth_server.token("emitted", "writer")
    with auth_server.client(auth_server.admin) as http:
        assert http.post("/api/v1/projects", json={"name": "emitted"}).status_code in (201, 409)
    with m.connect() as local:
        ids = logged(local)
        sent = emit(
            local, ids, url=auth_server.url, endpoint="p/emitted/api/v1/lineage", token=writer
        )
    assert sent == 5  # START and COMPLETE, START and FAIL, START
    with m.connect(f"{auth_server.url}/p/emitted", token=writer) as there:
        runs = there.get_executions()
        assert sorted(str(r.last_known_state) for r in runs) == ["COMPLETE", "FAILED", "RUNNING"]
        assert {r.type for r in runs} == {"mltrail/Train"}
        [done] = [r for r in runs if r.last_known_state == m.ExecutionState.COMPLETE]
        events = there.get_events_by_execution_ids([done.id])
        names = {a.id: (a.custom_properties["namespace"], a.custom_properties["name"]) for a in
                 there.get_artifacts_by_id([e.artifact_id for e in events])}  # fmt: skip
        assert {(names[e.artifact_id], e.type) for e in events} == {
            (("s3://bucket", "data/raw.csv"), m.EventType.INPUT),
            (("file", "/models/m.pt"), m.EventType.OUTPUT),
        }


def test_emitted_to_a_file_as_json_lines_with_stable_run_ids(tmp_path: Any) -> None:
    import json

    from mltrail.compat.openlineage import emit

    need_module("openlineage.client")
    path = tmp_path / "events.jsonl"
    with m.connect() as local:
        ids = logged(local)
        assert emit(local, ids, file=str(path)) == 5
        assert emit(local, ids[:1], file=str(path)) == 2  # appended
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["eventType"] for e in lines] == [
        "START", "COMPLETE", "START", "FAIL", "START", "START", "COMPLETE"
    ]  # fmt: skip
    assert lines[0]["run"]["runId"] == lines[5]["run"]["runId"] != lines[2]["run"]["runId"]
    assert lines[1]["job"] == {"namespace": "mltrail", "name": "Train", "facets": {}} or (
        lines[1]["job"]["namespace"],
        lines[1]["job"]["name"],
    ) == ("mltrail", "Train")
    assert [d["name"] for d in lines[1]["outputs"]] == ["/models/m.pt"]
    assert lines[0]["outputs"] == [] and lines[0]["producer"].startswith("https://")


def test_runs_recorded_from_openlineage_are_emitted_as_they_came() -> None:
    from mltrail.compat.openlineage import ingest, run_events

    need_module("openlineage.client")
    run = str(uuid.uuid4())
    sent = {
        "eventType": "COMPLETE",
        "eventTime": "2026-12-01T10:00:00Z",
        "run": {"runId": run},
        "job": {"namespace": "spark://cluster", "name": "daily/etl"},
        "inputs": [{"namespace": "postgres://db:5432", "name": "public.raw"}],
        "outputs": [{"namespace": "s3://lake", "name": "clean/part"}],
    }
    with m.connect() as store:
        ingest(store, [sent])
        [execution] = store.get_executions()
        events = run_events(store, [execution.id])
    assert [str(e.eventType.value) for e in events] == ["START", "COMPLETE"]
    final = events[-1]
    assert final.run.runId == run
    assert (final.job.namespace, final.job.name) == ("spark://cluster", "daily/etl")
    assert [(d.namespace, d.name) for d in final.inputs] == [("postgres://db:5432", "public.raw")]
    assert [(d.namespace, d.name) for d in final.outputs] == [("s3://lake", "clean/part")]


def test_emitting_refuses_what_it_cannot_do(tmp_path: Any) -> None:
    from mltrail.compat.openlineage import emit
    from mltrail.errors import InvalidArgumentError, NotFoundError

    need_module("openlineage.client")
    with m.connect() as store:
        ids = logged(store)
        with pytest.raises(InvalidArgumentError, match="either url or file"):
            emit(store, ids)
        with pytest.raises(InvalidArgumentError, match="either url or file"):
            emit(store, ids, url="http://127.0.0.1:9", file=str(tmp_path / "x"))
        with pytest.raises(NotFoundError, match="no execution with id 99"):
            emit(store, [99], file=str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()
