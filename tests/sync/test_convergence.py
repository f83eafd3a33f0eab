"""Property-based convergence: random work at three sites, random transfers in random orders
with random interruptions, through a central store on PostgreSQL and a second one on MariaDB;
in the end every store holds the same canonical graph and pushing again sends nothing.

Deterministic (derandomized); ``MLTRAIL_SYNC_EXAMPLES=N`` runs more examples and
``MLTRAIL_FUZZ_RANDOM=1`` explores new ones.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _flaky import Flaky
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mltrail as m
from _canon import canon, node_key
from _servers import Server, need
from mltrail import sync
from mltrail.errors import AlreadyExistsError

EXAMPLES = int(os.environ.get("MLTRAIL_SYNC_EXAMPLES", "8"))
SITES = 3
P = m.PropertyType

_examples = itertools.count()

CONVERGENCE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("MLTRAIL_FUZZ_RANDOM", "") in ("", "0"),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# What a site does: (site, operation, a choice, another choice)
work = st.tuples(
    st.integers(0, SITES - 1),
    st.sampled_from(
        ["artifact", "execution", "run", "event", "member", "parent"]
        + ["set"] * 4
        + ["unset"] * 2
        + ["state"] * 2
    ),
    st.integers(0, 5),
    st.integers(0, 5),
)
# A transfer: (kind, site, server, batch size, batches before the connection drops or None)
transfer = st.tuples(
    st.sampled_from(["push", "pull", "sync", "federate"]),
    st.integers(0, SITES - 1),
    st.integers(0, 1),
    st.integers(1, 7),
    st.one_of(st.none(), st.integers(0, 2)),
)
steps = st.lists(
    st.one_of(work.map(lambda w: ("work", w)), transfer.map(lambda t: ("move", t))),
    min_size=5,
    max_size=40,
)


def declare(store: m.MetadataStore) -> None:
    store.put_artifact_type(m.ArtifactType(name="Data", properties={"rows": P.INT}))
    store.put_execution_type(m.ExecutionType(name="Step", properties={"lr": P.DOUBLE}))
    store.put_context_type(m.ContextType(name="Pipeline"))
    store.put_context_type(m.ContextType(name="Run"))


@pytest.fixture
def stores(tmp_path: Path, servers: dict[str, Server]) -> Iterator[Any]:
    made: list[m.MetadataStore] = []

    def fresh(index: int) -> list[m.MetadataStore]:
        for store in made:
            store.close()
        made.clear()
        root = tmp_path / f"example{index}"
        root.mkdir()
        urls = [f"sqlite:///{root / f'site{i}.db'}" for i in range(SITES)]
        for kind in ("postgresql", "mysql"):
            server = servers[kind]
            need(server)
            urls.append(server.new_database("conv"))
        made.extend(m.connect(url) for url in urls)
        for store in made:
            declare(store)
        return list(made)

    yield fresh
    for store in made:
        store.close()


def do_work(store: m.MetadataStore, op: str, i: int, j: int, expected: dict[Any, Any]) -> None:
    artifacts = store.get_artifacts()
    executions = store.get_executions()
    contexts = store.get_contexts()
    if op == "artifact":
        # a small pool of content digests: sites make the same artifact independently
        external = f"sha256:{i}" if j % 2 else None
        found = store.get_artifacts_by_external_ids([external]) if external else []
        if not found:
            store.put_artifacts(
                [
                    m.Artifact(
                        type="Data", uri=f"s3://b/{i}", external_id=external, properties={"rows": j}
                    )
                ]
            )
    elif op == "execution":
        store.put_executions(
            [
                m.Execution(
                    type="Step",
                    properties={"lr": i / 10},
                    last_known_state=m.ExecutionState.RUNNING,
                )
            ]
        )
    elif op == "run":
        kind = "Pipeline" if j % 2 else "Run"
        if store.get_context_by_type_and_name(kind, f"{kind.lower()}-{i}") is None:
            store.put_contexts([m.Context(type=kind, name=f"{kind.lower()}-{i}")])
    elif op in ("set", "unset", "state"):
        nodes = artifacts + executions + contexts
        if not nodes:
            return
        node = nodes[i % len(nodes)]
        key = f"k{j % 3}"
        kind = {m.Artifact: 1, m.Execution: 2, m.Context: 3}[type(node)]
        before = node.custom_properties.get(key)
        if op == "set":
            node.custom_properties = {**node.custom_properties, key: f"v{i}{j}"}
            written = (key, f"v{i}{j}") if before != f"v{i}{j}" else None
        elif op == "unset":
            node.custom_properties = {k: v for k, v in node.custom_properties.items() if k != key}
            written = (key, None) if before is not None else None
        elif isinstance(node, m.Execution):
            state = [m.ExecutionState.COMPLETE, m.ExecutionState.FAILED][j % 2]
            written = ("state", state) if node.last_known_state != state else None
            node.last_known_state = state
        elif isinstance(node, m.Artifact):
            state = [m.ArtifactState.LIVE, m.ArtifactState.DELETED][j % 2]
            written = ("state", state) if node.state != state else None
            node.state = state
        else:
            return
        put = {
            m.Artifact: store.put_artifacts,
            m.Execution: store.put_executions,
            m.Context: store.put_contexts,
        }
        put[type(node)]([node])
        if written is not None:
            # one process, one clock: the last write in the script is the last writer
            expected[(node_key(store, kind, node.id), written[0])] = written[1]
    elif op == "event" and artifacts and executions:
        a, e = artifacts[i % len(artifacts)], executions[j % len(executions)]
        with contextlib.suppress(AlreadyExistsError):
            store.put_events([m.Event(artifact_id=a.id, execution_id=e.id, type=m.EventType.INPUT)])
    elif op == "member" and contexts and (artifacts or executions):
        ctx = contexts[i % len(contexts)]
        if j % 2 and artifacts:
            store.put_attributions_and_associations(
                [m.Attribution(artifact_id=artifacts[j % len(artifacts)].id, context_id=ctx.id)], []
            )
        elif executions:
            store.put_attributions_and_associations(
                [],
                [m.Association(execution_id=executions[j % len(executions)].id, context_id=ctx.id)],
            )
    elif op == "parent":
        # runs belong to pipelines: links only go from a Run to a Pipeline, so never in a cycle
        runs = [c for c in contexts if c.type == "Run"]
        pipelines = [c for c in contexts if c.type == "Pipeline"]
        if runs and pipelines:
            store.put_parent_contexts(
                [
                    m.ParentContext(
                        child_id=runs[i % len(runs)].id, parent_id=pipelines[j % len(pipelines)].id
                    )
                ]
            )


def move(
    stores: list[m.MetadataStore], kind: str, site: int, server: int, size: int, drop: int | None
) -> None:
    here, central = stores[site], stores[SITES + server]
    if kind == "federate":
        here, central = stores[SITES], stores[SITES + 1]
    target: Any = central if drop is None else Flaky(central, drop)
    try:
        if kind == "push":
            sync.push(here, target, batch_size=size)
        elif kind == "pull":
            sync.pull(here if drop is None else Flaky(here, drop), central, batch_size=size)
        else:
            sync.sync(here, target, batch_size=size)
    except ConnectionError:
        pass  # the next transfer resumes


def settle(stores: list[m.MetadataStore]) -> None:
    """Transfers until everything has reached everywhere: each site with the first server, the
    two servers with each other, each site once more."""
    first, second = stores[SITES], stores[SITES + 1]
    for _ in range(2):
        for site in stores[:SITES]:
            sync.sync(site, first)
        sync.sync(first, second)
        sync.sync(second, first)
    for site in stores[:SITES]:
        sync.pull(site, first)


@CONVERGENCE
@given(script=steps)
def test_every_store_converges_to_the_same_graph(stores: Any, script: list[Any]) -> None:
    everyone = stores(next(_examples))
    expected: dict[Any, Any] = {}
    # a shared start: nodes every site holds, so that sites write the same keys concurrently
    for op, i, j in (("artifact", 0, 0), ("execution", 0, 0), ("execution", 1, 0), ("run", 0, 1)):
        do_work(everyone[0], op, i, j, expected)
    sync.push(everyone[0], everyone[SITES])
    for site in everyone[1:SITES]:
        sync.pull(site, everyone[SITES])
    for tag, item in script:
        if tag == "work":
            site, op, i, j = item
            do_work(everyone[site], op, i, j, expected)
        else:
            move(everyone, *item)
    settle(everyone)
    graphs = [canon(store) for store in everyone]
    for graph in graphs[1:]:
        assert graph == graphs[0]
    # the last writer of each key won
    nodes = graphs[0]["nodes"]
    for (key, field), value in expected.items():
        record = nodes[key]
        if field == "state":
            state = record["fields"].get("state", record["fields"].get("last_known_state"))
            assert state == int(value), (key, field)
        else:
            found = [p[3] for p in record["props"] if p[0] == field and p[1]]
            removed = [r for r in record["removed"] if r[0] == field and r[1]]
            live = {p[0]: p[4] for p in record["props"] if p[1]}
            if value is None:
                assert not found or max(r[2] for r in removed) > live[field], (key, field)
            else:
                assert found == [value], (key, field, found)
    # no duplicates: one node per digest and per context name
    digests = [a.external_id for a in everyone[SITES].get_artifacts() if a.external_id]
    assert len(digests) == len(set(digests))
    for site in everyone[:SITES]:
        assert sync.push(site, everyone[SITES]).records == 0
    assert sync.push(everyone[SITES], everyone[SITES + 1]).records == 0
