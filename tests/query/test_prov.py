"""A lineage graph as W3C PROV (mltrail.query.prov), checked by the prov library itself: the
PROV-JSON text reads back into an equal document, PROV-N is written without complaint, and every
node, event, membership and parent link is where the mapping says."""

from __future__ import annotations

import datetime
import json
import sys
from types import ModuleType

import pytest

import mltrail as m
from _servers import need_module
from mltrail.errors import FailedPreconditionError
from mltrail.query.prov import NAMESPACE, to_prov, to_prov_json


@pytest.fixture
def prov_model() -> ModuleType:
    """The prov library's model (the prov extra, in dev)."""
    return need_module("prov.model")


T = m.EventType


def logged(store: m.MetadataStore) -> dict[str, int]:
    """A run of a pipeline: a dataset in (and an internal input), a model out, properties of
    every kind (names with a space and a slash), a context inside another."""
    store.put_artifact_type(m.ArtifactType(name="Dataset", properties={"rows": m.PropertyType.INT}))
    store.put_artifact_type(m.ArtifactType(name="Model"))
    store.put_execution_type(m.ExecutionType(name="Train"))
    store.put_context_type(m.ContextType(name="Pipeline"))
    store.put_context_type(m.ContextType(name="Run"))
    [pipeline, run] = store.put_contexts(
        [m.Context(type="Pipeline", name="mnist"), m.Context(type="Run", name="run-1")]
    )
    store.put_parent_contexts([m.ParentContext(child_id=run, parent_id=pipeline)])
    [data, model, notes] = store.put_artifacts(
        [
            m.Artifact(
                type="Dataset",
                uri="s3://bucket/raw.csv",
                name="raw",
                external_id="sha256:" + "ab" * 32,
                properties={"rows": 50},
                custom_properties={"split ratio": 0.8, "a/b": {"k": [1, 2]}},
            ),
            m.Artifact(type="Model", uri="/models/m.pt", custom_properties={"ok": True}),
            m.Artifact(type="Model", uri="/notes.txt"),
        ]
    )
    by_id = {a.id: a for a in store.get_artifacts_by_id([data, model, notes])}
    [run_context] = store.get_contexts_by_id([run])
    execution = store.put_execution(
        m.Execution(
            type="Train",
            name="<train>",
            last_known_state=m.ExecutionState.COMPLETE,
            custom_properties={"lr": 0.01},
        ),
        [
            (by_id[data], m.Event(type=T.INPUT, path=["data", 0])),
            (by_id[model], m.Event(type=T.OUTPUT)),
            (by_id[notes], m.Event(type=T.INTERNAL_INPUT)),
        ],
        [run_context],
    )[0]
    return {"pipeline": pipeline, "run": run, "data": data, "model": model, "notes": notes,
            "execution": execution}  # fmt: skip


def records(document: object, kind: type) -> dict[str, object]:
    return {str(r.identifier): r for r in document.get_records(kind)}  # type: ignore[attr-defined]


def attribute(record: object, name: str) -> object:
    values = record.get_attribute(name)  # type: ignore[attr-defined]
    assert len(values) == 1, (name, values)
    return next(iter(values))


def test_a_run_as_prov_reads_back_equal(prov_model: ModuleType) -> None:
    with m.connect() as store:
        ids = logged(store)
        graph = store.get_context_dag(ids["run"])
        [execution] = store.get_executions_by_id([ids["execution"]])
    text = to_prov_json(graph)
    document = to_prov(graph)
    again = prov_model.ProvDocument.deserialize(content=text, format="json")
    assert again == document
    assert "agent" in json.loads(text) and json.loads(text)["prefix"]["mltrail"] == NAMESPACE
    assert document.serialize(format="provn").startswith("document")

    entities = records(document, prov_model.ProvEntity)
    assert set(entities) == {f"mltrail:artifact/{ids[k]}" for k in ("data", "model", "notes")}
    raw = entities[f"mltrail:artifact/{ids['data']}"]
    assert attribute(raw, "prov:label") == "raw"
    assert attribute(raw, "prov:location") == "s3://bucket/raw.csv"
    assert str(attribute(raw, "prov:type")) == "mltrail:type/Dataset"
    assert attribute(raw, "mltrail:property/rows") == 50
    assert attribute(raw, "mltrail:custom_property/split%20ratio") == 0.8
    assert json.loads(str(attribute(raw, "mltrail:custom_property/a%2Fb"))) == {"k": [1, 2]}
    assert attribute(raw, "mltrail:external_id") == "sha256:" + "ab" * 32

    [activity] = records(document, prov_model.ProvActivity).values()
    assert str(activity.identifier) == f"mltrail:execution/{ids['execution']}"
    assert attribute(activity, "prov:label") == "<train>"
    assert attribute(activity, "mltrail:state") == "COMPLETE"
    started = datetime.datetime.fromtimestamp(
        (execution.create_time_since_epoch or 0) / 1000, tz=datetime.timezone.utc
    )
    assert activity.get_startTime() == started and activity.get_endTime() is not None

    agents = records(document, prov_model.ProvAgent)
    assert set(agents) == {f"mltrail:context/{c.id}" for c in graph.contexts}
    assert f"mltrail:context/{ids['run']}" in agents
    assert (
        str(attribute(agents[f"mltrail:context/{ids['run']}"], "prov:type")) == "mltrail:type/Run"
    )

    used = {str(r.args[1]): r for r in document.get_records(prov_model.ProvUsage)}
    assert set(used) == {f"mltrail:artifact/{ids[k]}" for k in ("data", "notes")}
    by_data = used[f"mltrail:artifact/{ids['data']}"]
    assert str(by_data.args[0]) == f"mltrail:execution/{ids['execution']}"
    assert attribute(by_data, "mltrail:path") == '["data", 0]'
    assert attribute(by_data, "mltrail:event_type") == "INPUT"
    internal = used[f"mltrail:artifact/{ids['notes']}"]
    assert attribute(internal, "mltrail:event_type") == "INTERNAL_INPUT"
    [generated] = document.get_records(prov_model.ProvGeneration)
    assert [str(a) for a in generated.args[:2]] == [
        f"mltrail:artifact/{ids['model']}",
        f"mltrail:execution/{ids['execution']}",
    ]
    [associated] = document.get_records(prov_model.ProvAssociation)
    assert str(associated.args[1]) == f"mltrail:context/{ids['run']}"


def test_memberships_and_parents_of_a_lineage_walk(prov_model: ModuleType) -> None:
    with m.connect() as store:
        ids = logged(store)
        graph = store.lineage(artifact_ids=[ids["model"]], direction=m.LineageDirection.UPSTREAM)
    document = to_prov(graph)
    agents = set(records(document, prov_model.ProvAgent))
    assert {f"mltrail:context/{c.id}" for c in graph.contexts} == agents
    attributed = {
        (str(r.args[0]), str(r.args[1])) for r in document.get_records(prov_model.ProvAttribution)
    }
    expected = {
        (f"mltrail:artifact/{a.artifact_id}", f"mltrail:context/{a.context_id}")
        for a in graph.attributions
    }
    assert attributed == expected and attributed
    delegated = {
        (str(r.args[0]), str(r.args[1])) for r in document.get_records(prov_model.ProvDelegation)
    }
    assert delegated == {
        (f"mltrail:context/{p.child_id}", f"mltrail:context/{p.parent_id}")
        for p in graph.parent_contexts
    }
    again = prov_model.ProvDocument.deserialize(content=to_prov_json(graph), format="json")
    assert again == document


def test_without_the_prov_library_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prov.model", None)
    with pytest.raises(FailedPreconditionError, match=r"pip install 'mltrail\[prov\]'"):
        to_prov(m.LineageGraph())
