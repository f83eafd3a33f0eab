"""OpenLineage run events recorded in a store (mltrail.compat.openlineage.ingest), on every
backend: the mapping, additive events, parent runs, idempotence and refusals."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

import mltrail as m
from mltrail.compat.openlineage import DATASET_TYPE, JOB_CONTEXT_TYPE, RUN_CONTEXT_TYPE, ingest
from mltrail.errors import InvalidArgumentError

NS = "postgres://db:5432"


def event(
    kind: str, run: str, job: str = "etl.load", when: str = "2026-12-01T10:00:00Z", **more: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventType": kind,
        "eventTime": when,
        "producer": "https://example.org/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run, "facets": more.pop("run_facets", {})},
        "job": {"namespace": "airflow", "name": job, "facets": more.pop("job_facets", {})},
    }
    body.update(more)
    return body


def dataset(name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": NS, "name": name, **facets}


def everything(store: m.MetadataStore) -> dict[str, Any]:
    """What the store holds, comparable between two moments."""
    executions = store.get_executions()
    contexts = store.get_contexts()
    return {
        "artifacts": store.get_artifacts(),
        "executions": executions,
        "contexts": contexts,
        "events": store.get_events_by_execution_ids([e.id for e in executions]),
        "members": {c.id: store.get_artifacts_by_context(c.id) for c in contexts},
        "associated": {c.id: store.get_executions_by_context(c.id) for c in contexts},
        "parents": {c.id: store.get_parent_contexts_by_context(c.id) for c in contexts},
    }


def test_a_run_reported_in_three_events(store: m.MetadataStore) -> None:
    run = str(uuid.uuid4())
    schema = {"_producer": "p", "fields": [{"name": "id", "type": "int"}]}
    report = ingest(
        store,
        [
            event("START", run, inputs=[dataset("public.raw", facets={"schema": schema})]),
            event("RUNNING", run, when="2026-12-01T10:00:05Z"),
        ],
    )
    assert (report.events, report.new_runs, report.new_datasets) == (2, 1, 1)
    [running] = store.get_executions()
    assert running.last_known_state == m.ExecutionState.RUNNING
    second = ingest(
        store,
        [
            event(
                "COMPLETE",
                run,
                when="2026-12-01T10:01:00Z",
                outputs=[
                    dataset("public.clean", outputFacets={"outputStatistics": {"rowCount": 10}})
                ],
                run_facets={"nominalTime": {"nominalStartTime": "2026-12-01T10:00:00Z"}},
                job_facets={"sql": {"query": "INSERT INTO clean SELECT * FROM raw"}},
            )
        ],
    )
    assert (second.runs, second.new_runs, second.datasets, second.new_datasets) == (1, 0, 1, 1)

    [execution] = store.get_executions()
    assert execution.type == "airflow/etl.load"
    assert execution.external_id == f"openlineage:run:{run}"
    assert execution.last_known_state == m.ExecutionState.COMPLETE
    props = execution.custom_properties
    assert props["start_time"] == "2026-12-01T10:00:00Z"
    assert props["end_time"] == props["event_time"] == "2026-12-01T10:01:00Z"
    assert props["producer"] == "https://example.org/producer"
    assert props["facet.nominalTime"] == {"nominalStartTime": "2026-12-01T10:00:00Z"}

    artifacts = {a.uri: a for a in store.get_artifacts()}
    assert set(artifacts) == {f"{NS}/public.raw", f"{NS}/public.clean"}
    raw, clean = artifacts[f"{NS}/public.raw"], artifacts[f"{NS}/public.clean"]
    assert raw.type == DATASET_TYPE and raw.external_id == f"openlineage:dataset:{NS}/public.raw"
    assert raw.custom_properties["facet.schema"] == schema
    assert raw.custom_properties["namespace"] == NS
    assert clean.custom_properties["output_facet.outputStatistics"] == {"rowCount": 10}
    events = {(e.artifact_id, e.type) for e in store.get_events_by_execution_ids([execution.id])}
    assert events == {(raw.id, m.EventType.INPUT), (clean.id, m.EventType.OUTPUT)}

    job = store.get_context_by_type_and_name(JOB_CONTEXT_TYPE, "airflow/etl.load")
    own = store.get_context_by_type_and_name(RUN_CONTEXT_TYPE, run)
    assert job is not None and own is not None
    assert job.custom_properties["facet.sql"] == {"query": "INSERT INTO clean SELECT * FROM raw"}
    assert [e.id for e in store.get_executions_by_context(job.id)] == [execution.id]
    assert [e.id for e in store.get_executions_by_context(own.id)] == [execution.id]
    for context in (own, job):
        assert {a.id for a in store.get_artifacts_by_context(context.id)} == {raw.id, clean.id}
    assert store.get_parent_contexts_by_context(own.id) == []
    dag = store.get_context_dag(job.id)
    assert ({a.id for a in dag.artifacts}, [e.id for e in dag.executions]) == (
        {raw.id, clean.id},
        [execution.id],
    )


def test_a_parent_run_facet_makes_a_parent_context(store: m.MetadataStore) -> None:
    dag_run, task_run = str(uuid.uuid4()), str(uuid.uuid4())
    parent = {"run": {"runId": dag_run}, "job": {"namespace": "airflow", "name": "etl"}}
    ingest(store, [event("START", task_run, run_facets={"parent": parent})])
    task = store.get_context_by_type_and_name(RUN_CONTEXT_TYPE, task_run)
    dag = store.get_context_by_type_and_name(RUN_CONTEXT_TYPE, dag_run)
    etl = store.get_context_by_type_and_name(JOB_CONTEXT_TYPE, "airflow/etl")
    load = store.get_context_by_type_and_name(JOB_CONTEXT_TYPE, "airflow/etl.load")
    assert None not in (task, dag, etl, load)
    assert task and dag and etl and load
    assert [p.id for p in store.get_parent_contexts_by_context(task.id)] == [dag.id]
    assert [p.id for p in store.get_parent_contexts_by_context(dag.id)] == [etl.id]
    # The parent run reports later: its run joins the context the facet made.
    ingest(store, [event("COMPLETE", dag_run, job="etl")])
    assert [e.external_id for e in store.get_executions_by_context(dag.id)] == [
        f"openlineage:run:{dag_run}"
    ]
    assert len(store.get_contexts()) == 4


def test_sending_events_again_adds_nothing(store: m.MetadataStore) -> None:
    run = str(uuid.uuid4())
    parent = {"run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "airflow", "name": "etl"}}
    batch = [
        event("START", run, inputs=[dataset("a")], run_facets={"parent": parent}),
        event("COMPLETE", run, outputs=[dataset("b"), dataset("c")]),
    ]
    ingest(store, batch)
    before = everything(store)
    again = ingest(store, batch)
    assert (again.new_runs, again.new_datasets) == (0, 0)
    after = everything(store)
    assert [e.custom_properties for e in after["executions"]] == [
        e.custom_properties for e in before["executions"]
    ]
    for part in ("events", "members", "associated", "parents"):
        assert after[part] == before[part], part
    assert [a.id for a in after["artifacts"]] == [a.id for a in before["artifacts"]]
    assert [c.id for c in after["contexts"]] == [c.id for c in before["contexts"]]


def test_a_batch_of_runs_files_each_as_one_run_alone_would(store: m.MetadataStore) -> None:
    first, second, alone = (str(uuid.uuid4()) for _ in range(3))
    ingest(
        store,
        [
            event("START", first, inputs=[dataset("shared")], outputs=[dataset("one")]),
            event("START", second, job="etl.other", inputs=[dataset("shared")]),
            event("COMPLETE", second, job="etl.other", outputs=[dataset("two")]),
        ],
    )
    ingest(store, [event("START", alone, job="etl.third", inputs=[dataset("shared")])])

    def filed(run: str, job: str) -> tuple[set[str | None], set[str | None], set[str | None]]:
        own = store.get_context_by_type_and_name(RUN_CONTEXT_TYPE, run)
        of_job = store.get_context_by_type_and_name(JOB_CONTEXT_TYPE, f"airflow/{job}")
        assert own is not None and of_job is not None
        uris = [{a.uri for a in store.get_artifacts_by_context(c.id)} for c in (own, of_job)]
        assert uris[0] == uris[1]
        runs = {e.external_id for e in store.get_executions_by_context(own.id)}
        assert runs == {e.external_id for e in store.get_executions_by_context(of_job.id)}
        return uris[0], runs, {p.name for p in store.get_parent_contexts_by_context(own.id)}

    assert filed(first, "etl.load") == (
        {f"{NS}/shared", f"{NS}/one"},
        {f"openlineage:run:{first}"},
        set(),
    )
    assert filed(second, "etl.other") == (
        {f"{NS}/shared", f"{NS}/two"},
        {f"openlineage:run:{second}"},
        set(),
    )
    assert filed(alone, "etl.third") == ({f"{NS}/shared"}, {f"openlineage:run:{alone}"}, set())
    assert len(store.get_artifacts()) == 3


def test_a_late_start_does_not_reopen_a_finished_run(store: m.MetadataStore) -> None:
    run = str(uuid.uuid4())
    ingest(store, [event("FAIL", run, when="2026-12-01T10:05:00Z")])
    ingest(store, [event("START", run, when="2026-12-01T10:00:00Z")])
    [execution] = store.get_executions()
    assert execution.last_known_state == m.ExecutionState.FAILED
    assert execution.custom_properties["start_time"] == "2026-12-01T10:00:00Z"
    ingest(store, [event("ABORT", str(uuid.uuid4()))])
    states = sorted(str(e.last_known_state) for e in store.get_executions())
    assert states == ["CANCELED", "FAILED"]


RUN = "3f5e83fa-3480-44ff-99c5-ff943904e5e8"
AT = re.escape(f"event #1 (run {RUN})")
BASE = event("START", RUN)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("START", "event #1 must be a JSON object, got str"),
        ({"eventType": "START", "eventTime": "t"}, r"event #1\.run must be a JSON object"),
        ({**BASE, "run": {"runId": "r1"}}, r"runId must be a UUID, got 'r1'"),
        ({**BASE, "eventType": "DONE"}, AT + r"\.eventType must be one of START, "),
        ({**BASE, "eventTime": ""}, AT + r"\.eventTime must be a non-empty string"),
        (
            {**BASE, "job": {"namespace": "x"}},
            AT + r"\.job\.name must be a non-empty",
        ),
        (
            {**BASE, "inputs": {"name": "x"}},
            AT + r"\.inputs must be a list of datasets",
        ),
        (
            {**BASE, "outputs": [{"name": "x"}]},
            AT + r"\.outputs\[0\]\.namespace must",
        ),
        (
            {**BASE, "inputs": [{**dataset("x"), "facets": {"schema": 3}}]},
            AT + r"\.inputs\[0\]\.facets\.schema must be a JSON object, got int",
        ),
        (
            event("START", RUN, run_facets={"parent": {"run": {"runId": RUN}, "job": {}}}),
            AT + r"\.run\.facets\.parent\.job\.namespace must be a non-empty string",
        ),
    ],
)
def test_a_malformed_event_is_refused_by_its_place_and_nothing_is_written(
    store: m.MetadataStore, bad: Any, message: str
) -> None:
    good = event("START", str(uuid.uuid4()), inputs=[dataset("raw")])
    with pytest.raises(InvalidArgumentError, match=message):
        ingest(store, [good, bad])
    assert store.get_executions() == [] and store.get_artifacts() == []
    assert store.get_artifact_types() == [] and store.get_contexts() == []


def test_a_run_of_two_jobs_and_a_wrong_batch_are_refused(store: m.MetadataStore) -> None:
    run = str(uuid.uuid4())
    with pytest.raises(InvalidArgumentError, match="a run belongs to one job"):
        ingest(store, [event("START", run), event("COMPLETE", run, job="other")])
    with pytest.raises(InvalidArgumentError, match="events must be a list of run events"):
        ingest(store, event("START", run))  # type: ignore[arg-type]
    assert store.get_executions() == [] and store.get_execution_types() == []
