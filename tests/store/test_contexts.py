"""Context membership (attributions, associations) and the parent-context DAG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import mltrail as m
from _ids import stable_repr
from mltrail.errors import AlreadyExistsError, InvalidArgumentError

Snapshot = dict[str, Any]


@dataclass
class Nodes:
    artifacts: list[int]
    executions: list[int]
    contexts: list[int]


def make_nodes(store: m.MetadataStore, artifacts: int, executions: int, contexts: int) -> Nodes:
    at = store.put_artifact_type(m.ArtifactType(name="Member"))
    et = store.put_execution_type(m.ExecutionType(name="MemberRun"))
    ct = store.put_context_type(m.ContextType(name="Group"))
    return Nodes(
        artifacts=store.put_artifacts([m.Artifact(type_id=at) for _ in range(artifacts)]),
        executions=store.put_executions([m.Execution(type_id=et) for _ in range(executions)]),
        contexts=store.put_contexts(
            [m.Context(type_id=ct, name=f"group-{i}") for i in range(contexts)]
        ),
    )


def ids(nodes: list[Any]) -> list[int]:
    return [n.id for n in nodes]


# --------------------------------------------------------------------------------------- membership


def test_memberships_round_trip_in_all_four_directions(store: m.MetadataStore) -> None:
    n = make_nodes(store, artifacts=3, executions=2, contexts=2)
    a0, a1, a2 = n.artifacts
    e0, e1 = n.executions
    c0, c1 = n.contexts
    store.put_attributions_and_associations(
        [
            m.Attribution(artifact_id=a0, context_id=c0),
            m.Attribution(artifact_id=a1, context_id=c0),
            m.Attribution(artifact_id=a1, context_id=c1),
        ],
        [
            m.Association(execution_id=e0, context_id=c0),
            m.Association(execution_id=e1, context_id=c1),
            m.Association(execution_id=e0, context_id=c1),
        ],
    )
    assert ids(store.get_artifacts_by_context(c0)) == [a0, a1]
    assert ids(store.get_artifacts_by_context(c1)) == [a1]
    assert ids(store.get_executions_by_context(c0)) == [e0]
    assert ids(store.get_executions_by_context(c1)) == [e0, e1]
    assert ids(store.get_contexts_by_artifact(a0)) == [c0]
    assert ids(store.get_contexts_by_artifact(a1)) == [c0, c1]
    assert ids(store.get_contexts_by_execution(e0)) == [c0, c1]
    assert ids(store.get_contexts_by_execution(e1)) == [c1]

    assert store.get_contexts_by_artifact(a2) == []
    [context] = store.get_contexts_by_artifact(a0)
    assert (context.name, context.type) == ("group-0", "Group")


def test_lookups_without_membership_return_empty_lists(store: m.MetadataStore) -> None:
    """MLMD raises NotFound from get_contexts_by_artifact/execution when there is none."""
    n = make_nodes(store, artifacts=1, executions=1, contexts=1)
    assert store.get_contexts_by_artifact(n.artifacts[0]) == []
    assert store.get_contexts_by_execution(n.executions[0]) == []
    assert store.get_artifacts_by_context(n.contexts[0]) == []
    assert store.get_executions_by_context(n.contexts[0]) == []
    assert store.get_contexts_by_artifact(424_242) == []
    assert store.get_contexts_by_execution(424_242) == []
    assert store.get_artifacts_by_context(424_242) == []
    assert store.get_executions_by_context(424_242) == []


def test_attributions_and_associations_may_be_given_alone(store: m.MetadataStore) -> None:
    n = make_nodes(store, artifacts=1, executions=1, contexts=1)
    c = n.contexts[0]
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=n.artifacts[0], context_id=c)], []
    )
    store.put_attributions_and_associations(
        [], [m.Association(execution_id=n.executions[0], context_id=c)]
    )
    assert ids(store.get_artifacts_by_context(c)) == n.artifacts
    assert ids(store.get_executions_by_context(c)) == n.executions


def test_re_inserting_a_link_is_a_no_op(store: m.MetadataStore) -> None:
    n = make_nodes(store, artifacts=2, executions=1, contexts=1)
    c = n.contexts[0]
    attribution = m.Attribution(artifact_id=n.artifacts[0], context_id=c)
    association = m.Association(execution_id=n.executions[0], context_id=c)
    store.put_attributions_and_associations([attribution, attribution], [association, association])
    store.put_attributions_and_associations(
        [attribution, m.Attribution(artifact_id=n.artifacts[1], context_id=c)], [association]
    )
    assert ids(store.get_artifacts_by_context(c)) == n.artifacts
    assert ids(store.get_executions_by_context(c)) == n.executions
    assert ids(store.get_contexts_by_artifact(n.artifacts[0])) == [c]
    assert ids(store.get_contexts_by_execution(n.executions[0])) == [c]


@pytest.mark.parametrize(
    "bad",
    [
        "attribution-missing-context",
        "attribution-missing-artifact",
        "association-missing-context",
        "association-missing-execution",
        "attribution-none-artifact",
        "association-none-context",
    ],
)
def test_links_to_missing_nodes_are_refused_and_nothing_stored(
    store: m.MetadataStore, snapshot: Callable[[m.MetadataStore], Snapshot], bad: str
) -> None:
    n = make_nodes(store, artifacts=1, executions=1, contexts=1)
    a, e, c = n.artifacts[0], n.executions[0], n.contexts[0]
    missing = 31_337
    wrong: dict[str, Any] = {
        "attribution-missing-context": m.Attribution(artifact_id=a, context_id=missing),
        "attribution-missing-artifact": m.Attribution(artifact_id=missing, context_id=c),
        "association-missing-context": m.Association(execution_id=e, context_id=missing),
        "association-missing-execution": m.Association(execution_id=missing, context_id=c),
        "attribution-none-artifact": m.Attribution(artifact_id=None, context_id=c),  # type: ignore[arg-type]
        "association-none-context": m.Association(execution_id=e, context_id=None),  # type: ignore[arg-type]
    }[bad]
    attributions: list[Any] = [m.Attribution(artifact_id=a, context_id=c)]
    associations: list[Any] = [m.Association(execution_id=e, context_id=c)]
    (attributions if bad.startswith("attribution") else associations).append(wrong)
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError):
        store.put_attributions_and_associations(attributions, associations)
    assert snapshot(store) == before


def test_links_must_be_attributions_and_associations(store: m.MetadataStore) -> None:
    n = make_nodes(store, artifacts=1, executions=1, contexts=1)
    association = m.Association(execution_id=n.executions[0], context_id=n.contexts[0])
    with pytest.raises(InvalidArgumentError):
        store.put_attributions_and_associations([association], [])
    assert store.get_executions_by_context(n.contexts[0]) == []


def test_a_context_with_many_members_returns_all_of_them(store: m.MetadataStore) -> None:
    n = make_nodes(store, artifacts=150, executions=120, contexts=2)
    c, other = n.contexts
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=a, context_id=c) for a in n.artifacts],
        [m.Association(execution_id=e, context_id=c) for e in n.executions],
    )
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=n.artifacts[0], context_id=other)], []
    )
    assert ids(store.get_artifacts_by_context(c)) == n.artifacts
    assert ids(store.get_executions_by_context(c)) == n.executions
    assert ids(store.get_artifacts_by_context(other)) == n.artifacts[:1]
    assert ids(store.get_contexts_by_artifact(n.artifacts[0])) == [c, other]


# ----------------------------------------------------------------------------------------- parents

# A DAG of seven contexts: (child, parent) links.
#
#        0     1
#       / \   / \
#      2   3 /   6
#       \ /     /
#        4 ----'
#        |
#        5
DAG = [(2, 0), (3, 0), (2, 1), (6, 1), (4, 2), (4, 3), (4, 6), (5, 4)]


def test_parents_and_children_of_a_dag(store: m.MetadataStore) -> None:
    c = make_nodes(store, artifacts=0, executions=0, contexts=7).contexts
    store.put_parent_contexts([m.ParentContext(child_id=c[ch], parent_id=c[p]) for ch, p in DAG])

    for node in range(7):
        parents = sorted(c[p] for ch, p in DAG if ch == node)
        children = sorted(c[ch] for ch, p in DAG if p == node)
        assert ids(store.get_parent_contexts_by_context(c[node])) == parents, node
        assert ids(store.get_children_contexts_by_context(c[node])) == children, node
    [parent] = store.get_parent_contexts_by_context(c[5])
    assert (parent.name, parent.type) == ("group-4", "Group")
    assert store.get_parent_contexts_by_context(424_242) == []
    assert store.get_children_contexts_by_context(424_242) == []


def test_parents_and_children_of_many_contexts_in_one_call(store: m.MetadataStore) -> None:
    c = make_nodes(store, artifacts=0, executions=0, contexts=7).contexts
    store.put_parent_contexts([m.ParentContext(child_id=c[ch], parent_id=c[p]) for ch, p in DAG])
    asked = [*c, 424_242, c[4]]  # an unknown id and a repeated one
    parents = store.get_parent_contexts_by_contexts(asked)
    children = store.get_children_contexts_by_contexts(asked)
    expected_parents = {c[n]: sorted(c[p] for ch, p in DAG if ch == n) for n in range(7)}
    expected_children = {c[n]: sorted(c[ch] for ch, p in DAG if p == n) for n in range(7)}
    assert {k: ids(v) for k, v in parents.items()} == {
        k: v for k, v in expected_parents.items() if v
    }
    assert {k: ids(v) for k, v in children.items()} == {
        k: v for k, v in expected_children.items() if v
    }
    assert c[0] not in parents and c[5] not in children  # a root, a leaf
    # The same answers as one call per context, node for node.
    for node in c:
        assert parents.get(node, []) == store.get_parent_contexts_by_context(node)
        assert children.get(node, []) == store.get_children_contexts_by_context(node)
    assert [x.name for x in children[c[1]]] == ["group-2", "group-6"]
    assert store.get_parent_contexts_by_contexts([]) == {}
    assert store.get_children_contexts_by_contexts([424_242]) == {}


def test_many_contexts_need_no_more_calls_than_one(store: m.MetadataStore) -> None:
    c = make_nodes(store, artifacts=0, executions=0, contexts=1200).contexts
    store.put_parent_contexts([m.ParentContext(child_id=k, parent_id=c[0]) for k in c[1:]])
    children = store.get_children_contexts_by_contexts(c)
    assert list(children) == [c[0]] and ids(children[c[0]]) == c[1:]
    parents = store.get_parent_contexts_by_contexts(c)
    assert sorted(parents) == c[1:] and all(ids(v) == [c[0]] for v in parents.values())


def test_many_context_lookups_refuse_bad_ids(store: m.MetadataStore) -> None:
    for bad in (None, "1", [1.5], [True], 5):
        with pytest.raises(InvalidArgumentError, match="context_ids"):
            store.get_children_contexts_by_contexts(bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="context_ids"):
            store.get_parent_contexts_by_contexts(bad)  # type: ignore[arg-type]


def test_links_may_be_added_over_several_calls(store: m.MetadataStore) -> None:
    c = make_nodes(store, artifacts=0, executions=0, contexts=3).contexts
    store.put_parent_contexts([m.ParentContext(child_id=c[1], parent_id=c[0])])
    store.put_parent_contexts([m.ParentContext(child_id=c[2], parent_id=c[1])])
    store.put_parent_contexts([m.ParentContext(child_id=c[2], parent_id=c[0])])
    assert ids(store.get_parent_contexts_by_context(c[2])) == [c[0], c[1]]
    assert ids(store.get_children_contexts_by_context(c[0])) == [c[1], c[2]]


def test_a_duplicate_link_is_refused(
    store: m.MetadataStore, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    c = make_nodes(store, artifacts=0, executions=0, contexts=3).contexts
    store.put_parent_contexts([m.ParentContext(child_id=c[1], parent_id=c[0])])
    before = snapshot(store)
    with pytest.raises(AlreadyExistsError):
        store.put_parent_contexts(
            [
                m.ParentContext(child_id=c[2], parent_id=c[0]),
                m.ParentContext(child_id=c[1], parent_id=c[0]),
            ]
        )
    assert snapshot(store) == before
    with pytest.raises(AlreadyExistsError):
        store.put_parent_contexts(
            [
                m.ParentContext(child_id=c[2], parent_id=c[1]),
                m.ParentContext(child_id=c[2], parent_id=c[1]),
            ]
        )
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "links",
    [
        pytest.param([(0, 0)], id="self-loop"),
        pytest.param([(0, 1)], id="reverses-an-existing-link"),
        pytest.param([(2, 1), (0, 2)], id="closes-a-chain-through-new-links"),
        pytest.param([(3, 4), (4, 3)], id="two-cycle-inside-one-batch"),
        pytest.param([(3, 2), (4, 3), (2, 4)], id="three-cycle-inside-one-batch"),
        pytest.param([(3, 2), (1, 1)], id="self-loop-after-a-valid-link"),
    ],
)
def test_cycles_are_refused_and_nothing_stored(
    store: m.MetadataStore,
    snapshot: Callable[[m.MetadataStore], Snapshot],
    links: list[tuple[int, int]],
) -> None:
    c = make_nodes(store, artifacts=0, executions=0, contexts=5).contexts
    store.put_parent_contexts([m.ParentContext(child_id=c[1], parent_id=c[0])])  # 0 -> 1
    before = snapshot(store)
    with pytest.raises(InvalidArgumentError):
        store.put_parent_contexts(
            [m.ParentContext(child_id=c[ch], parent_id=c[p]) for ch, p in links]
        )
    assert snapshot(store) == before


def test_a_diamond_is_not_a_cycle(store: m.MetadataStore) -> None:
    c = make_nodes(store, artifacts=0, executions=0, contexts=4).contexts
    store.put_parent_contexts(
        [
            m.ParentContext(child_id=c[1], parent_id=c[0]),
            m.ParentContext(child_id=c[2], parent_id=c[0]),
            m.ParentContext(child_id=c[3], parent_id=c[1]),
            m.ParentContext(child_id=c[3], parent_id=c[2]),
        ]
    )
    assert ids(store.get_parent_contexts_by_context(c[3])) == [c[1], c[2]]


@pytest.mark.parametrize(
    "fields",
    [
        {"child_id": 31_337},
        {"parent_id": 31_337},
        {"child_id": None},
        {"parent_id": None},
        {"child_id": "1"},
    ],
    ids=stable_repr,
)
def test_links_to_missing_contexts_are_refused(
    store: m.MetadataStore,
    snapshot: Callable[[m.MetadataStore], Snapshot],
    fields: dict[str, Any],
) -> None:
    c = make_nodes(store, artifacts=0, executions=0, contexts=3).contexts
    before = snapshot(store)
    valid = m.ParentContext(child_id=c[1], parent_id=c[0])
    bad = m.ParentContext(**{"child_id": c[2], "parent_id": c[0], **fields})
    with pytest.raises(InvalidArgumentError):
        store.put_parent_contexts([valid, bad])
    assert snapshot(store) == before


def test_a_parent_must_be_a_context_not_another_node(store: m.MetadataStore) -> None:
    at = store.put_artifact_type(m.ArtifactType(name="NotAContext"))
    ct = store.put_context_type(m.ContextType(name="RealContext"))
    [cid] = store.put_contexts([m.Context(type_id=ct, name="real")])
    artifact_ids = store.put_artifacts([m.Artifact(type_id=at) for _ in range(3)])
    only_an_artifact = max(artifact_ids)
    assert store.get_contexts_by_id([only_an_artifact]) == []
    with pytest.raises(InvalidArgumentError):
        store.put_parent_contexts([m.ParentContext(child_id=cid, parent_id=only_an_artifact)])
    assert store.get_parent_contexts_by_context(cid) == []


@pytest.mark.sql_only
def test_concurrent_links_cannot_close_a_cycle_together(
    store: m.MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two calls that each add one link, harmless alone, would close A→B→C→D→A together.

    The first call is held after its cycle check, before it commits, while the second runs: the
    second must wait for the first to commit and then refuse its link; both checks passing on
    uncommitted views of each other would leave a cycle.
    """
    import threading

    from mltrail.store import _edges

    a, b, c, d = make_nodes(store, 0, 0, 4).contexts
    store.put_parent_contexts([m.ParentContext(child_id=b, parent_id=c)])
    store.put_parent_contexts([m.ParentContext(child_id=d, parent_id=a)])
    inserted, go = threading.Event(), threading.Event()
    check = _edges.find_cycle

    def held_check(conn: Any, pairs: list[tuple[int, int]]) -> Any:
        found = check(conn, pairs)
        if threading.current_thread().name == "first":
            inserted.set()
            go.wait(timeout=30)
        return found

    monkeypatch.setattr(_edges, "find_cycle", held_check)
    outcomes: dict[str, str] = {}

    def link(name: str, child: int, parent: int) -> None:
        try:
            store.put_parent_contexts([m.ParentContext(child_id=child, parent_id=parent)])
            outcomes[name] = "linked"
        except InvalidArgumentError:
            outcomes[name] = "cycle refused"

    first = threading.Thread(target=link, args=("first", a, b), name="first")
    second = threading.Thread(target=link, args=("second", c, d), name="second")
    first.start()
    assert inserted.wait(timeout=30)
    second.start()
    second.join(timeout=1.0)  # a second call that does not wait finishes meanwhile
    go.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert sorted(outcomes.values()) == ["cycle refused", "linked"], outcomes
    parents = {x: {p.id for p in store.get_parent_contexts_by_context(x)} for x in (a, b, c, d)}
    linked = sum(len(v) for v in parents.values())
    assert linked == 3, parents  # the two first links and exactly one of the racing ones
