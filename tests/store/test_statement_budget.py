"""How many requests a pipeline step sends to the database: a budget per backend.

A step is one ``put_execution`` with an input artifact passed back as stored, a new output
artifact and the run's context reused by name (benchmarks/pipeline.py). On a server each
request is a round trip, which bounds the step's speed; a change that adds one fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

import mltrail as m
from _round_trips import counting

pytestmark = pytest.mark.sql_only  # counts statements of the SQL layer

T = m.EventType

#: Requests per step. SQLite: every statement it runs (one per row of a multi-row insert),
#: BEGIN and COMMIT included, and the change feed's one multi-row insert. PostgreSQL: BEGIN,
#: the input's load, the context's lookup and the new ids of the output and the execution in
#: one pipeline (two syncs); one request with the new rows, every property, event and
#: membership row, the change feed's write and the COMMIT. MariaDB: the load and the lookup as
#: one request; the two inserts as one; the rest of the rows, the feed's write and the COMMIT
#: as one.
BUDGET = {"sqlite-memory": 15, "sqlite-file": 15, "postgresql": 3, "mysql": 3}


class Pipeline:
    def __init__(self, store: m.MetadataStore) -> None:
        P = m.PropertyType
        self.store = store
        self.data = store.put_artifact_type(
            m.ArtifactType(name="Data", properties={"rows": P.INT, "acc": P.DOUBLE})
        )
        self.step_type = store.put_execution_type(
            m.ExecutionType(name="Step", properties={"lr": P.DOUBLE})
        )
        self.run = store.put_context_type(m.ContextType(name="Run"))
        source = m.Artifact(type_id=self.data, uri="/d/0", properties={"rows": 1})
        [source.id] = store.put_artifacts([source])
        self.previous = source
        self.k = 0

    def step(self) -> tuple[int, list[int], list[int]]:
        self.k += 1
        output = m.Artifact(
            type_id=self.data, uri=f"/d/{self.k}", properties={"rows": self.k, "acc": 0.5}
        )
        result = self.store.put_execution(
            m.Execution(type_id=self.step_type, properties={"lr": 0.1}),
            [(self.previous, m.Event(type=T.INPUT)), (output, m.Event(type=T.OUTPUT))],
            [m.Context(type_id=self.run, name="run-0")],
            reuse_context_if_already_exist=True,
        )
        output.id = result[1][1]
        self.previous = output
        return result


def _sent_per_step(store: m.MetadataStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    pipeline = Pipeline(store)
    with counting(store, monkeypatch) as trips:
        for _ in range(6):  # the driver prepares statements it sees often: past that
            pipeline.step()
        trips.reset()
        pipeline.step()
        return trips.sent()


def test_a_pipeline_step_stays_within_its_request_budget(
    store: m.MetadataStore, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _sent_per_step(store, monkeypatch)
    assert len(sent) <= BUDGET[backend], "\n".join(sent)
    # The input artifact was passed back exactly as stored: nothing of it is written.
    assert not [s for s in sent if s.lstrip().upper().startswith("UPDATE")], sent


def test_the_budget_counts_what_is_sent(
    store: m.MetadataStore, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counter sees requests: a step sends some, and one more call adds to them."""
    pipeline = Pipeline(store)
    pipeline.step()  # past what a connection's first step prepares
    with counting(store, monkeypatch) as trips:
        pipeline.step()
        one = trips.count
        trips.reset()
        pipeline.step()
        store.get_artifacts_by_id([1])
        assert trips.count > one // 2 > 0


def test_a_step_writes_what_it_was_given(store: m.MetadataStore) -> None:
    """The batched writes of a step land: properties, events and memberships of every node."""
    pipeline = Pipeline(store)
    first = pipeline.previous
    execution_id, (input_id, output_id), [context_id] = pipeline.step()
    [stored_input] = store.get_artifacts_by_id([input_id])
    assert stored_input.last_update_time_since_epoch == first.last_update_time_since_epoch or (
        first.last_update_time_since_epoch is None
    )
    [output] = store.get_artifacts_by_id([output_id])
    assert output.properties == {"rows": 1, "acc": 0.5}
    [execution] = store.get_executions_by_id([execution_id])
    assert execution.properties == {"lr": 0.1}
    events: list[Any] = store.get_events_by_execution_ids([execution_id])
    assert sorted((e.artifact_id, e.type) for e in events) == [
        (input_id, T.INPUT),
        (output_id, T.OUTPUT),
    ]
    assert sorted(a.id for a in store.get_artifacts_by_context(context_id)) == [
        input_id,
        output_id,
    ]
    assert [e.id for e in store.get_executions_by_context(context_id)] == [execution_id]
