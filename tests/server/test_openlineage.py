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
            eventType=State.START,
            eventTime="2026-12-01T10:00:00Z",
            run=run,
            job=job,
            producer=PRODUCER,
            inputs=[raw],
        ),
        RunEvent(
            eventType=State.COMPLETE,
            eventTime="2026-12-01T10:02:00Z",
            run=run,
            job=job,
            producer=PRODUCER,
            inputs=[raw],
            outputs=[clean],
        ),
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
