"""push, pull and sync between stores: merge by global identity, updates, conflicts, resumes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from _flaky import Flaky

import mltrail as m
from _canon import canon
from _dump import dump
from mltrail import sync
from mltrail.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    SyncConflictError,
)
from mltrail.sync import _check
from mltrail.sync._peers import StorePeer

NewStore = Callable[[], m.MetadataStore]

P = m.PropertyType


def log_run(
    store: m.MetadataStore, run: str, *, source_digest: str = "sha256:src", acc: float = 0.9
) -> int:
    """A pipeline run (a shared source dataset, a training step, a model): its execution id."""
    store.put_artifact_type(
        m.ArtifactType(name="Dataset", properties={"rows": P.INT}), can_add_fields=True
    )
    store.put_artifact_type(
        m.ArtifactType(name="Model", properties={"acc": P.DOUBLE}), can_add_fields=True
    )
    store.put_execution_type(
        m.ExecutionType(name="Train", properties={"lr": P.DOUBLE}), can_add_fields=True
    )
    store.put_context_type(m.ContextType(name="Pipeline"))
    store.put_context_type(m.ContextType(name="Run"))
    pipeline = m.Context(type="Pipeline", name="mnist")
    [pipeline_id] = (
        store.put_contexts([pipeline])
        if not store.get_context_by_type_and_name("Pipeline", "mnist")
        else [store.get_context_by_type_and_name("Pipeline", "mnist").id]
    )
    execution_id, _, [run_id] = store.put_execution(
        m.Execution(
            type="Train",
            properties={"lr": 0.1},
            custom_properties={"note": run},
            last_known_state=m.ExecutionState.COMPLETE,
        ),
        [
            (
                m.Artifact(
                    type="Dataset",
                    uri="s3://data/src",
                    external_id=source_digest,
                    properties={"rows": 10},
                ),
                m.Event(type=m.EventType.INPUT),
            ),
            (
                m.Artifact(type="Model", uri=f"file://{run}/model", properties={"acc": acc}),
                m.Event(type=m.EventType.OUTPUT),
            ),
        ],
        [m.Context(type="Run", name=run)],
        reuse_context_if_already_exist=True,
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    store.put_parent_contexts([m.ParentContext(child_id=run_id, parent_id=pipeline_id)])
    return execution_id


def counts(store: m.MetadataStore) -> tuple[int, int, int]:
    return store.count_artifacts(), store.count_executions(), store.count_contexts()


def test_push_copies_the_whole_graph(new_store: NewStore) -> None:
    site, central = new_store(), new_store()
    log_run(site, "run-1")
    log_run(site, "run-2")
    report = sync.push(site, central)
    assert canon(central) == canon(site)
    assert counts(central) == (3, 2, 3)
    assert report.created == report.records > 0 and report.unchanged == 0
    assert report.bytes > 0 and report.batches >= 1


def test_pushing_again_transfers_nothing(new_store: NewStore) -> None:
    site, central = new_store(), new_store()
    log_run(site, "run-1")
    sync.push(site, central)
    again = sync.push(site, central)
    assert (again.batches, again.records) == (0, 0)
    # and pulling back what came from the site itself sends nothing either
    back = sync.pull(site, central)
    assert back.records == 0


def test_updates_propagate_to_the_server_and_to_every_site(new_store: NewStore) -> None:
    site, central, other = new_store(), new_store(), new_store()
    execution_id = log_run(site, "run-1")
    sync.push(site, central)
    sync.pull(other, central)
    # a state change, a property added later, a key removed, a new event on a pushed execution
    [execution] = site.get_executions_by_id([execution_id])
    execution.last_known_state = m.ExecutionState.FAILED
    execution.custom_properties = {"retried": True}
    site.put_executions([execution])
    [model] = site.put_artifacts([m.Artifact(type="Model", uri="file://late/model")])
    site.put_events(
        [m.Event(artifact_id=model, execution_id=execution_id, type=m.EventType.OUTPUT)]
    )
    delta = sync.push(site, central)
    assert 0 < delta.records <= 6  # the execution, the new artifact, what their edges reach
    sync.pull(other, central)
    assert canon(other) == canon(central) == canon(site)
    [seen] = [e for e in other.get_executions() if e.custom_properties.get("retried")]
    assert seen.last_known_state == m.ExecutionState.FAILED
    assert "note" not in seen.custom_properties
    assert len(other.get_events_by_execution_ids([seen.id])) == 3


def test_sites_logging_the_same_things_merge_into_one(
    new_store: NewStore, new_site: NewStore
) -> None:
    central = new_store()
    a, b = new_site(), new_site()
    log_run(a, "run-a")
    log_run(b, "run-b")  # the same pipeline context and the same source dataset (by digest)
    sync.push(a, central)
    sync.push(b, central)
    assert counts(central) == (3, 2, 3)  # one source, two models; one pipeline, two runs
    sync.pull(a, central)
    sync.pull(b, central)
    assert canon(a) == canon(b) == canon(central)
    assert sync.push(a, central).records == 0
    assert sync.push(b, central).records == 0


def test_each_key_keeps_its_last_writer(new_store: NewStore, new_site: NewStore) -> None:
    central = new_store()
    a, b = new_site(), new_site()
    execution_id = log_run(a, "run-1")
    sync.push(a, central)
    sync.pull(b, central)
    [at_b] = b.get_executions()
    [at_a] = a.get_executions_by_id([execution_id])
    at_a.custom_properties = {**at_a.custom_properties, "x": "from a"}
    a.put_executions([at_a])
    at_b.custom_properties = {**at_b.custom_properties, "y": "from b"}
    b.put_executions([at_b])
    at_b.custom_properties = {**at_b.custom_properties, "x": "from b, later"}
    b.put_executions([at_b])
    for _ in range(2):
        for site in (a, b):
            sync.sync(site, central)
    assert canon(a) == canon(b) == canon(central)
    [merged] = central.get_executions()
    assert merged.custom_properties["x"] == "from b, later"
    assert merged.custom_properties["y"] == "from b"


def _refused(central: m.MetadataStore, site: m.MetadataStore, kind: str) -> SyncConflictError:
    before = dump(central.database)
    with pytest.raises(SyncConflictError) as caught:
        sync.push(site, central)
    assert dump(central.database) == before
    assert kind in [c["kind"] for c in caught.value.conflicts]
    assert all(c["resolve"] for c in caught.value.conflicts)
    return caught.value


def test_a_property_declared_with_two_value_types_is_a_conflict(
    new_store: NewStore, new_site: NewStore
) -> None:
    central = new_store()
    a, b = new_site(), new_site()
    a.put_artifact_type(m.ArtifactType(name="Metrics", properties={"score": P.INT}))
    b.put_artifact_type(m.ArtifactType(name="Metrics", properties={"score": P.STRING}))
    sync.push(a, central)
    error = _refused(central, b, "property_type")
    assert "score" in str(error)


def test_two_different_nodes_with_one_name_are_a_conflict(
    new_store: NewStore, new_site: NewStore
) -> None:
    central = new_store()
    a, b = new_site(), new_site()
    for site in (a, b):
        site.put_artifact_type(m.ArtifactType(name="Model"))
        site.put_artifacts([m.Artifact(type="Model", name="best", uri=f"file://{id(site)}")])
    sync.push(a, central)
    _refused(central, b, "name")


def test_a_parent_link_closing_a_cycle_is_a_conflict(
    new_store: NewStore, new_site: NewStore
) -> None:
    central = new_store()
    a, b = new_site(), new_site()
    for site, (child, parent) in ((a, ("x", "y")), (b, ("y", "x"))):
        site.put_context_type(m.ContextType(name="Group"))
        ids = dict(
            zip(
                (child, parent),
                site.put_contexts(
                    [m.Context(type="Group", name=child), m.Context(type="Group", name=parent)]
                ),
            )
        )
        site.put_parent_contexts([m.ParentContext(child_id=ids[child], parent_id=ids[parent])])
    sync.push(a, central)
    _refused(central, b, "cycle")
    assert canon(central) == canon(a)


def test_an_interrupted_push_resumes_without_duplicates(new_store: NewStore) -> None:
    site, central = new_store(), new_store()
    for i in range(12):
        log_run(site, f"run-{i}")
    with pytest.raises(ConnectionError):
        sync.push(site, Flaky(central, 2), batch_size=5)
    assert 0 < central.count_executions() < 12
    report = sync.push(site, central, batch_size=5)
    assert report.batches >= 1
    assert canon(central) == canon(site)
    assert counts(central) == counts(site)


def test_batches_that_are_replayed_altered_or_malformed_are_refused(new_store: NewStore) -> None:
    site, central = new_store(), new_store()
    log_run(site, "run-1")
    source, target = StorePeer(site), StorePeer(central)
    data = source.changes(0, None, 500).data
    target.apply(data)
    before = dump(central.database)
    with pytest.raises(FailedPreconditionError, match="replay"):
        target.apply(data)
    tampered = data.replace(b"s3://data/src", b"s3://evil/src")
    with pytest.raises(InvalidArgumentError, match="digest"):
        target.apply(tampered)
    with pytest.raises(InvalidArgumentError, match="not valid JSON"):
        target.apply(data[: len(data) // 2])
    batch = json.loads(data)["batch"]
    for change, match in (
        (lambda b: b.update(format=2), "format version"),
        (lambda b: b.update(site="not-a-uuid"), "UUID"),
        (lambda b: b["nodes"][0].update(kind=9), "kind"),
        (lambda b: b.update(site=target.site()), "this store itself"),
        (lambda b: b["nodes"].pop(0), "not in the batch|not among"),
    ):
        changed = json.loads(json.dumps(batch))
        changed["from"] = changed["to"] = None
        change(changed)
        with pytest.raises(InvalidArgumentError, match=match):
            target.apply(_check.encode(changed))
    # a node claimed to be this store's own that does not exist here (a forged id)
    forged = json.loads(json.dumps(batch))
    forged["from"] = forged["to"] = None
    extra = {k: v for k, v in forged["nodes"][0].items() if k != "edges"}
    forged["nodes"].append({**extra, "gid": [target.site(), 10**9]})
    with pytest.raises(InvalidArgumentError, match="does not exist here"):
        target.apply(_check.encode(forged))
    assert dump(central.database) == before


def test_a_change_in_a_large_store_sends_a_few_records(new_site: NewStore) -> None:
    site, central = new_site(), new_site()
    data = site.put_artifact_type(m.ArtifactType(name="Data"))
    step = site.put_execution_type(m.ExecutionType(name="Step"))
    run = site.put_context_type(m.ContextType(name="Run"))
    previous = m.Artifact(type_id=data, uri="/d/0")
    [previous.id] = site.put_artifacts([previous])
    execution_id = 0
    for k in range(10_000):
        output = m.Artifact(type_id=data, uri=f"/d/{k + 1}")
        execution_id, [_, output.id], _ = site.put_execution(
            m.Execution(type_id=step),
            [
                (previous, m.Event(type=m.EventType.INPUT)),
                (output, m.Event(type=m.EventType.OUTPUT)),
            ],
            [m.Context(type_id=run, name=f"run-{k // 5}")],
            reuse_context_if_already_exist=True,
        )
        previous = output
    first = sync.push(site, central, batch_size=2000)
    assert first.records >= 20_000
    [execution] = site.get_executions_by_id([execution_id])
    execution.custom_properties = {"seen": 1}
    site.put_executions([execution])
    delta = sync.push(site, central)
    assert delta.records <= 4  # the execution, its two artifacts and its context
    assert delta.bytes < 4_000
    [merged] = [e for e in central.get_executions(filter_query="custom_properties.seen = 1")]
    assert merged.custom_properties == {"seen": 1}


def test_a_chain_of_stores_converges(new_site: NewStore) -> None:
    """site -> server A -> server B -> another site, and back."""
    first, a, b, last = new_site(), new_site(), new_site(), new_site()
    log_run(first, "run-1")
    log_run(last, "run-2")
    for here, there in ((first, a), (a, b), (b, last), (a, b), (first, a)):  # along, then back
        sync.sync(here, there)
    assert canon(first) == canon(a) == canon(b) == canon(last)
    assert counts(last) == (3, 2, 3)


def test_one_external_id_with_two_types_is_a_conflict(
    new_store: NewStore, new_site: NewStore
) -> None:
    central = new_store()
    a, b = new_site(), new_site()
    a.put_artifact_type(m.ArtifactType(name="Model"))
    b.put_artifact_type(m.ArtifactType(name="Dataset"))
    a.put_artifacts([m.Artifact(type="Model", external_id="sha256:1")])
    b.put_artifacts([m.Artifact(type="Dataset", external_id="sha256:1")])
    sync.push(a, central)
    _refused(central, b, "node_type")


def test_push_and_pull_of_one_pipeline(new_store: NewStore) -> None:
    site, central, other = new_store(), new_store(), new_store()
    log_run(site, "run-1")
    site.put_context_type(m.ContextType(name="Scratch"))
    site.put_contexts([m.Context(type="Scratch", name="elsewhere")])
    sync.push(site, central, context="mnist")
    names = sorted(c.name for c in central.get_contexts())
    assert names == ["mnist", "run-1"]
    assert central.count_executions() == 1
    sync.pull(other, central, context="run-1")
    assert sorted(c.name for c in other.get_contexts()) == ["mnist", "run-1"]
    with pytest.raises(NotFoundError):
        sync.push(site, central, context="no-such-pipeline")


def test_pull_of_an_artifact_lineage(new_store: NewStore) -> None:
    site, other = new_store(), new_store()
    log_run(site, "run-1")
    log_run(site, "run-2", acc=0.95)
    [model] = [a for a in site.get_artifacts() if a.properties.get("acc") == 0.95]
    sync.pull(other, site, artifact=model.id)
    assert other.count_executions() == 1
    assert sorted(a.uri for a in other.get_artifacts()) == ["file://run-2/model", "s3://data/src"]


def test_a_bundle_carries_changes_without_a_network(new_store: NewStore, tmp_path: Any) -> None:
    site, elsewhere = new_store(), new_store()
    log_run(site, "run-1")
    bundle = tmp_path / "changes.mltrail"
    sync.push(site, bundle)
    report = sync.pull(elsewhere, bundle)
    assert report.created > 0
    assert canon(elsewhere) == canon(site)
    assert sync.pull(elsewhere, bundle).records == 0  # imported twice: nothing new


def test_a_store_does_not_sync_with_itself(new_store: NewStore) -> None:
    site = new_store()
    with pytest.raises(FailedPreconditionError, match="same store"):
        sync.push(site, site)


def test_a_push_resumes_after_the_server_is_killed(new_site: NewStore, tmp_path: Any) -> None:
    from _remote import RemoteServer
    from mltrail.errors import UnavailableError
    from mltrail.sync._http import HttpPeer

    site = new_site()
    for i in range(12):
        log_run(site, f"run-{i}")
    store = f"sqlite:///{tmp_path / 'central.db'}"
    server = RemoteServer(store, tmp_path / "home")

    class Crashing(HttpPeer):
        """Kills the server (SIGKILL) before the third batch arrives."""

        sent = 0

        def apply(self, data: bytes, origin: str | None = None) -> Any:
            self.sent += 1
            if self.sent == 3:
                server.process.kill()
                server.process.wait()
            return super().apply(data, origin)

    target = Crashing(server.url)
    try:
        with pytest.raises(UnavailableError):
            sync.push(site, target, batch_size=5)
    finally:
        target.close()
        server.close()
    with m.connect(store) as central:
        assert 0 < central.count_executions() < 12  # two batches arrived
    again = RemoteServer(store, tmp_path / "home")
    try:
        report = sync.push(site, again.url, batch_size=5)
        assert report.batches >= 1
    finally:
        again.close()
    with m.connect(store) as central:
        assert canon(central) == canon(site)


def test_an_external_id_held_by_another_type_is_a_conflict(
    new_store: NewStore, new_site: NewStore
) -> None:
    central = new_store()
    a, b = new_site(), new_site()
    a.put_artifact_type(m.ArtifactType(name="Model", external_id="types/1"))
    b.put_artifact_type(m.ArtifactType(name="Checkpoint", external_id="types/1"))
    sync.push(a, central)
    error = _refused(central, b, "external_id")
    assert "types/1" in str(error)
