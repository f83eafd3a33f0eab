"""Argument rules of the store API, one regression test per rule.

Ids are ints: bools, floats and strings are refused, never converted. An id no node can have
(below 1 or beyond 64 bits) finds nothing in a lookup and is missing for a write. Counts are
bounded, page tokens are checked, stored strings hold no NUL and no lone surrogate, and STRUCT
values are JSON-like and at most 64 levels deep.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import pytest

import mltrail as m
from _ids import stable_repr
from mltrail.errors import InvalidArgumentError, NotFoundError

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

T = m.EventType
P = m.PropertyType
Snapshot = dict[str, Any]

NOT_IDS = [2.9, 1.0, "1", "x", True, False, {"id": 1}, PurePosixPath("1"), [1]]
UNUSABLE_IDS = [0, -1, 2**63, 2**64, -(2**63) - 1, 10**30]


@dataclass
class World:
    at: int
    et: int
    ct: int
    artifact: int
    execution: int
    context: int


@pytest.fixture
def world(store: m.MetadataStore) -> World:
    at = store.put_artifact_type(m.ArtifactType(name="Data", properties={"rows": P.INT}))
    et = store.put_execution_type(m.ExecutionType(name="Step"))
    ct = store.put_context_type(m.ContextType(name="Run"))
    [a] = store.put_artifacts([m.Artifact(type_id=at, uri="/a", name="a")])
    [e] = store.put_executions([m.Execution(type_id=et)])
    [c] = store.put_contexts([m.Context(type_id=ct, name="c")])
    store.put_events([m.Event(artifact_id=a, execution_id=e, type=T.OUTPUT)])
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=a, context_id=c)], [m.Association(execution_id=e, context_id=c)]
    )
    return World(at, et, ct, a, e, c)


def refused(
    store: m.MetadataStore,
    snapshot: Callable[[m.MetadataStore], Snapshot],
    call: Callable[[], object],
    match: str,
    error: type[Exception] = InvalidArgumentError,
) -> None:
    before = snapshot(store)
    with pytest.raises(error, match=match):
        call()
    assert snapshot(store) == before


# --------------------------------------------------------------------------------------------- ids


@pytest.mark.parametrize("bad", NOT_IDS, ids=stable_repr)
def test_put_events_refuses_ids_that_are_not_ints(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot], bad: Any
) -> None:
    """``artifact_id=2.9`` used to record artifact 2, and ``"1"`` or True artifact 1."""
    for fields in ({"artifact_id": bad}, {"execution_id": bad}):
        event = m.Event(
            **{"artifact_id": world.artifact, "execution_id": world.execution, **fields},
            type=T.INPUT,
        )
        refused(store, snapshot, lambda event=event: store.put_events([event]), "must be an int id")


def test_every_call_taking_ids_refuses_non_ints(store: m.MetadataStore, world: World) -> None:
    a, e, c, at = world.artifact, world.execution, world.context, world.at
    calls: list[Callable[[Any], object]] = [
        lambda x: store.get_artifacts_by_id([x]),
        lambda x: store.get_executions_by_id([a, x]),
        lambda x: store.get_contexts_by_id([x]),
        lambda x: store.get_artifact_types_by_id([x]),
        lambda x: store.get_events_by_artifact_ids([x]),
        lambda x: store.get_events_by_execution_ids([x]),
        lambda x: store.get_artifacts_and_types_by_artifact_ids([x]),
        lambda x: store.get_artifacts_by_context(x),
        lambda x: store.get_executions_by_context(x),
        lambda x: store.get_contexts_by_artifact(x),
        lambda x: store.get_contexts_by_execution(x),
        lambda x: store.get_parent_contexts_by_context(x),
        lambda x: store.get_children_contexts_by_context(x),
        lambda x: store.get_artifact_producers(x),
        lambda x: store.get_context_dag(x),
        lambda x: store.get_provenance(x),
        lambda x: store.lineage(execution_ids=[x]),
        lambda x: store.compare_artifacts(a, x),
        lambda x: store.compare_artifacts(x, a),
        lambda x: store.fingerprint("Step", input_artifact_ids=[x]),
        lambda x: store.put_artifacts([m.Artifact(id=x, type_id=at)]),
        lambda x: store.put_artifacts([m.Artifact(type_id=x)]),
        lambda x: store.put_artifact_type(m.ArtifactType(name="Data", id=x)),
        lambda x: store.put_attributions_and_associations(
            [m.Attribution(artifact_id=x, context_id=c)], []
        ),
        lambda x: store.put_attributions_and_associations(
            [], [m.Association(execution_id=e, context_id=x)]
        ),
        lambda x: store.put_parent_contexts([m.ParentContext(child_id=c, parent_id=x)]),
        lambda x: store.put_execution(
            m.Execution(type_id=world.et), [(None, m.Event(artifact_id=x, type=T.INPUT))], []
        ),
        lambda x: store.put_execution(m.Execution(id=x), [], []),
        lambda x: store.put_execution(
            m.Execution(type_id=world.et), [], [m.Context(id=x)], force_reuse_context=True
        ),
        lambda x: store.put_lineage_subgraph(
            [], [], [], [(None, None, m.Event(artifact_id=a, execution_id=x, type=T.INPUT))]
        ),
    ]
    for call in calls:
        for bad in (2.9, "1", True):
            with pytest.raises(InvalidArgumentError, match="int id"):
                call(bad)


def test_ids_no_node_can_have_find_nothing_in_lookups(store: m.MetadataStore, world: World) -> None:
    """They used to overflow the database driver (OverflowError on SQLite)."""
    for bad in UNUSABLE_IDS:
        assert store.get_artifacts_by_id([bad, world.artifact]) == store.get_artifacts_by_id(
            [world.artifact]
        )
        assert store.get_executions_by_id([bad]) == []
        assert store.get_contexts_by_id([bad]) == []
        assert store.get_artifact_types_by_id([bad]) == []
        assert store.get_events_by_artifact_ids([bad]) == []
        assert store.get_events_by_execution_ids([bad]) == []
        assert store.get_artifacts_and_types_by_artifact_ids([bad]) == ([], [])
        assert store.get_artifacts_by_context(bad) == []
        assert store.get_executions_by_context(bad, limit=1) == []
        assert store.get_contexts_by_artifact(bad) == []
        assert store.get_contexts_by_execution(bad) == []
        assert store.get_parent_contexts_by_context(bad) == []
        assert store.get_children_contexts_by_context(bad) == []
        assert store.get_artifact_producers(bad) == []
        assert store.get_artifact_consumers(bad) == []
        assert store.get_context_dag(bad) == m.LineageGraph()
        assert store.get_provenance(bad) == m.LineageGraph()
        assert store.lineage(artifact_ids=[bad], execution_ids=[bad]) == m.LineageGraph()


def test_ids_no_node_can_have_are_missing_for_writes(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    a, e, c = world.artifact, world.execution, world.context
    for bad in (2**63, 0, -(2**70)):
        refused(
            store,
            snapshot,
            lambda bad=bad: store.put_events(
                [m.Event(artifact_id=bad, execution_id=e, type=T.INPUT)]
            ),
            f"no artifact with id {bad}",
        )
        refused(
            store,
            snapshot,
            lambda bad=bad: store.put_attributions_and_associations(
                [m.Attribution(artifact_id=a, context_id=bad)], []
            ),
            f"no context with id {bad}",
        )
        refused(
            store,
            snapshot,
            lambda bad=bad: store.put_artifacts([m.Artifact(id=bad, uri="/x")]),
            f"cannot find artifact id {bad}",
        )
        refused(
            store,
            snapshot,
            lambda bad=bad: store.put_contexts([m.Context(type_id=bad, name="x")]),
            f"type_id {bad}",
            NotFoundError,
        )
        refused(
            store,
            snapshot,
            lambda bad=bad: store.put_execution(
                m.Execution(type_id=world.et), [], [m.Context(id=bad)], force_reuse_context=True
            ),
            f"no context with id {bad}",
            NotFoundError,
        )
        with pytest.raises(NotFoundError, match=str(bad)):
            store.compare_artifacts(a, bad)
        with pytest.raises(NotFoundError, match=str(bad)):
            store.fingerprint("Step", input_artifact_ids=[bad])
    assert c  # the world's context took part in the membership checks


# ------------------------------------------------------------------------------ limits and tokens


def test_limits_and_counts_are_bounded_ints(store: m.MetadataStore, world: World) -> None:
    for bad in (10**30, 2**63, -1, True, 2.0, "5"):
        with pytest.raises(InvalidArgumentError, match="limit"):
            store.get_artifacts(limit=bad)
        with pytest.raises(InvalidArgumentError, match="limit"):
            store.get_executions_by_context(world.context, m.ListOptions(limit=bad))
        with pytest.raises(InvalidArgumentError, match="max_hops"):
            store.get_provenance(world.artifact, max_hops=bad)
        with pytest.raises(InvalidArgumentError, match="max_nodes"):
            store.lineage(artifact_ids=[world.artifact], max_nodes=bad)
        with pytest.raises(InvalidArgumentError, match="candidates"):
            store.explain_cache_miss(store.fingerprint("Step"), candidates=bad)
    assert [a.id for a in store.get_artifacts(limit=1_000_000_000)] == [world.artifact]
    assert [a.id for a in store.get_artifacts(limit=0)] == [world.artifact]


def _token(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_forged_page_tokens_are_invalid_arguments(store: m.MetadataStore, world: World) -> None:
    store.put_artifacts([m.Artifact(type_id=world.at) for _ in range(3)])
    real = store.get_artifacts(limit=1).next_page_token
    assert real is not None
    good = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    forged = [
        {**good, "i": 10**30},
        {**good, "i": 2**63},
        {**good, "v": -(2**64)},
        {**good, "i": "1"},
        {**good, "i": True},
        {**good, "i": 1.5},
        {**good, "v": "text"},
        {**good, "v": {"nested": [1, {"x": []}]}},
        {**good, "i": [[[]]]},
        {**good, "v": "\ud800"},
        [1, 2, 3],
        "token",
        10**40,
        None,
        {"v": 1},
        {},
    ]
    for payload in forged:
        with pytest.raises(InvalidArgumentError, match="page_token"):
            store.get_artifacts(limit=1, page_token=_token(payload))
    for garbled in ("!!!", "a", "\ud800", real[:-3], base64.b64encode(b"\xff\xfe").decode()):
        with pytest.raises(InvalidArgumentError, match="page_token"):
            store.get_artifacts(limit=1, page_token=garbled)
    for not_text in (5, b"abc", ["x"]):
        with pytest.raises(InvalidArgumentError, match="page_token"):
            store.get_artifacts(limit=1, page_token=not_text)
    assert len(store.get_artifacts(limit=1, page_token=real)) == 1


# -------------------------------------------------------------------------------------- strings


LONE = "x\ud800y"


def test_lone_surrogates_are_refused_in_every_stored_string(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    """They used to raise UnicodeEncodeError from the database driver."""
    at, et, ct, a, e = world.at, world.et, world.ct, world.artifact, world.execution
    calls: dict[str, Callable[[], object]] = {
        "name": lambda: store.put_artifacts([m.Artifact(type_id=at, name=LONE)]),
        "uri": lambda: store.put_artifacts([m.Artifact(type_id=at, uri=LONE)]),
        "external_id": lambda: store.put_executions([m.Execution(type_id=et, external_id=LONE)]),
        "context name": lambda: store.put_contexts([m.Context(type_id=ct, name=LONE)]),
        "property value": lambda: store.put_artifacts(
            [m.Artifact(type_id=at, custom_properties={"s": LONE})]
        ),
        "property name": lambda: store.put_artifacts(
            [m.Artifact(type_id=at, custom_properties={LONE: 1})]
        ),
        "struct string": lambda: store.put_artifacts(
            [m.Artifact(type_id=at, custom_properties={"s": {"k": [LONE]}})]
        ),
        "struct key": lambda: store.put_artifacts(
            [m.Artifact(type_id=at, custom_properties={"s": {LONE: 1}})]
        ),
        "type name": lambda: store.put_artifact_type(m.ArtifactType(name=LONE)),
        "type version": lambda: store.put_artifact_type(m.ArtifactType(name="V", version=LONE)),
        "type external_id": lambda: store.put_context_type(
            m.ContextType(name="V", external_id=LONE)
        ),
        "type property name": lambda: store.put_execution_type(
            m.ExecutionType(name="V", properties={LONE: P.INT})
        ),
        "type description": lambda: store.put_artifact_type(
            m.ArtifactType(name="V", description=LONE)
        ),
        "event path key": lambda: store.put_events(
            [m.Event(artifact_id=a, execution_id=e, type=T.INPUT, path=[LONE])]
        ),
        "mask path": lambda: store.put_artifacts(
            [m.Artifact(id=a)], field_mask_paths=[f"custom_properties.{LONE}"]
        ),
        "put_execution artifact": lambda: store.put_execution(
            m.Execution(type_id=et),
            [(m.Artifact(type_id=at, external_id=LONE),)],
            [],
            reuse_artifact_if_already_exist_by_external_id=True,
        ),
        "put_execution context": lambda: store.put_execution(
            m.Execution(type_id=et),
            [],
            [m.Context(type_id=ct, name=LONE)],
            reuse_context_if_already_exist=True,
        ),
    }
    for what, call in calls.items():
        before = snapshot(store)
        with pytest.raises(InvalidArgumentError, match="surrogate"):
            call()
        assert snapshot(store) == before, what


def test_lone_surrogates_are_refused_in_lookups_and_queries(
    store: m.MetadataStore, world: World
) -> None:
    calls: list[Callable[[], object]] = [
        lambda: store.get_artifact_type(LONE),
        lambda: store.get_artifact_type("Data", LONE),
        lambda: store.get_artifacts_by_type(LONE),
        lambda: store.get_artifact_by_type_and_name("Data", LONE),
        lambda: store.get_artifacts_by_uri([LONE]),
        lambda: store.get_artifacts_by_external_ids([LONE]),
        lambda: store.get_context_types_by_external_ids([LONE]),
        lambda: store.get_artifacts(filter_query=f"name = '{LONE}'"),
        lambda: store.lineage(artifacts_filter=f"uri = '{LONE}'"),
        lambda: store.fingerprint(LONE),
        lambda: store.fingerprint("Step", parameters={"p": LONE}),
        lambda: store.fingerprint("Step", inputs={"x": LONE}),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError, match="surrogate"):
            call()


def test_nul_characters_are_refused_in_lookups(store: m.MetadataStore, world: World) -> None:
    for call in (
        lambda: store.get_artifact_by_type_and_name("Data", "a\x00"),
        lambda: store.get_artifacts_by_uri("/a\x00"),
        lambda: store.get_executions_by_type("Step\x00"),
    ):
        with pytest.raises(InvalidArgumentError, match="NUL"):
            call()


# ------------------------------------------------------------------------ fields and their types


def test_type_fields_are_checked_for_their_python_types(
    store: m.MetadataStore, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    """``version={}`` was silently ignored and ``type=5`` a ProgrammingError on PostgreSQL."""
    store.put_artifact_type(m.ArtifactType(name="Data"))
    bad_types: list[tuple[Any, str]] = [
        (m.ArtifactType(name=5), "name must be a string"),  # type: ignore[arg-type]
        (m.ArtifactType(name="Data", version={}), "version must be a string"),  # type: ignore[arg-type]
        (m.ArtifactType(name="Data", version=1), "version must be a string"),  # type: ignore[arg-type]
        (m.ArtifactType(name="Data", description=["d"]), "description must be a string"),  # type: ignore[arg-type]
        (m.ArtifactType(name="Data", external_id=7), "external_id must be a string"),  # type: ignore[arg-type]
        (m.ArtifactType(name="Data", properties=[("p", P.INT)]), "must be a dict"),  # type: ignore[arg-type]
        (m.ArtifactType(name="Data", properties={5: P.INT}), "property name"),  # type: ignore[dict-item]
        (m.ArtifactType(name="Data", properties={"p": "NUMBER"}), "'NUMBER' is not valid"),  # type: ignore[dict-item]
        (m.ArtifactType(name="Data", base_type="SHINY"), "base_type 'SHINY'"),  # type: ignore[arg-type]
        (m.ArtifactType(name="Data", id="1"), "type id must be an int id"),  # type: ignore[arg-type]
    ]
    for given, match in bad_types:
        refused(store, snapshot, lambda given=given: store.put_artifact_type(given), match)
    for version in ({}, 1, ["v"]):
        with pytest.raises(InvalidArgumentError, match="type_version"):
            store.get_artifact_type("Data", version)
        with pytest.raises(InvalidArgumentError, match="type_version"):
            store.get_artifacts_by_type("Data", version)
        with pytest.raises(InvalidArgumentError, match="type_version"):
            store.get_artifact_by_type_and_name("Data", "a", version)
    for name in (5, None, {"n": 1}):
        with pytest.raises(InvalidArgumentError, match="type_name"):
            store.get_artifact_type(name)  # type: ignore[arg-type]


def test_node_fields_are_checked_for_their_python_types(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    at = world.at
    bad: list[tuple[Any, str]] = [
        (m.Artifact(type=5), "type must be a string"),  # type: ignore[arg-type]
        (m.Artifact(type_id=at, uri=5), "uri must be a string"),  # type: ignore[arg-type]
        (m.Artifact(type_id=at, name=["n"]), "name must be a string"),  # type: ignore[arg-type]
        (m.Artifact(type_id=at, external_id=1.5), "external_id must be a string"),  # type: ignore[arg-type]
        (m.Artifact(type_id=at, state=2.0), "state 2.0 is not valid"),  # type: ignore[arg-type]
        (m.Artifact(type_id=at, properties=[("rows", 1)]), "properties must be a dict"),  # type: ignore[arg-type]
        (m.Artifact(type_id=at, properties=0), "properties must be a dict"),  # type: ignore[arg-type]
        (m.Artifact(type_id=at, custom_properties={1: "x"}), "keys must be non-empty"),  # type: ignore[dict-item]
        (m.Artifact(type_id=at, create_time_since_epoch="now"), "create_time_since_epoch"),  # type: ignore[arg-type]
    ]
    for artifact, match in bad:
        refused(store, snapshot, lambda artifact=artifact: store.put_artifacts([artifact]), match)
    for flag in ("yes", 1, None):
        refused(
            store,
            snapshot,
            lambda flag=flag: store.put_execution(
                m.Execution(type_id=world.et), [], [], force_update_time=flag
            ),
            "force_update_time must be True or False",
        )
        refused(
            store,
            snapshot,
            lambda flag=flag: store.put_artifact_type(
                m.ArtifactType(name="N"), can_add_fields=flag
            ),
            "can_add_fields",
        )
    for mask in ("uri", 5, [5], True):
        refused(
            store,
            snapshot,
            lambda mask=mask: store.put_artifacts(
                [m.Artifact(id=world.artifact)], field_mask_paths=mask
            ),
            "field mask path|field_mask_paths",
        )


# ---------------------------------------------------------------------------------- STRUCT values


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_struct_values_are_json_like_and_at_most_64_deep(
    store: m.MetadataStore, world: World, snapshot: Callable[[m.MetadataStore], Snapshot]
) -> None:
    """Bytes inside lists and 10,000-deep nesting used to crash in encoding."""
    at = world.at
    for value, match in (
        ([1, b"raw"], r"'s'.*b'raw'.* at \[1\] is not JSON-like"),
        ({"a": {"b": {1, 2}}}, r"at a\.b is not JSON-like"),
        (_nested(10_000), "nested more than 64 levels"),
        (_nested(65), "nested more than 64 levels"),
        ({"n": 2**64}, "at n does not fit in a 64-bit integer"),
        ([float("nan")], r"at \[0\] is not a finite"),
        ({"k": ["a\ud800"]}, "surrogate"),
    ):
        refused(
            store,
            snapshot,
            lambda value=value: store.put_artifacts(
                [m.Artifact(type_id=at, custom_properties={"s": value})]
            ),
            match,
        )
    deep = _nested(63)
    [stored] = store.put_artifacts(
        [m.Artifact(type_id=at, custom_properties={"s": deep, "t": (1, "a\x00")})]
    )
    [got] = store.get_artifacts_by_id([stored])
    assert got.custom_properties == {"s": deep, "t": [1, "a\x00"]}


# ------------------------------------------------------------------------- questions' arguments


def test_compare_and_fingerprint_check_their_arguments(
    store: m.MetadataStore, world: World
) -> None:
    """``compare_artifacts(a, True)`` compared with artifact 1, ``(a, None)`` raised TypeError
    and ``fingerprint(parameters=[1])`` a raw ValueError."""
    a = world.artifact
    for other in (None, True, 1.0, "1"):
        with pytest.raises(InvalidArgumentError, match="right_id must be an int id"):
            store.compare_artifacts(a, other)  # type: ignore[arg-type]
    for parameters in ([1], "p", 5, {1: "x"}, {"p": b"x"}, {"p": _nested(100)}):
        with pytest.raises(InvalidArgumentError, match="parameters"):
            store.fingerprint("Step", parameters=parameters)  # type: ignore[arg-type]
    for inputs in ([("x", "sha")], {"x": None}, {"x": 5}, {3: "sha"}):
        with pytest.raises(InvalidArgumentError, match="inputs"):
            store.fingerprint("Step", inputs=inputs)  # type: ignore[arg-type]
    for code_version in (5, ["v"]):
        with pytest.raises(InvalidArgumentError, match="code_version"):
            store.fingerprint("Step", code_version=code_version)  # type: ignore[arg-type]
    for not_a_fingerprint in (None, "sha256:00", {"digest": "x"}):
        with pytest.raises(InvalidArgumentError, match="Fingerprint"):
            store.find_cached_execution(not_a_fingerprint)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="Fingerprint"):
            store.explain_cache_miss(not_a_fingerprint)  # type: ignore[arg-type]
    # Tuples and numpy-like numbers are JSON-like: the digest is that of the plain value.
    assert (
        store.fingerprint("Step", parameters={"p": (1, 2)}).digest
        == store.fingerprint("Step", parameters={"p": [1, 2]}).digest
    )


def test_lineage_options_are_checked(store: m.MetadataStore, world: World) -> None:
    Options = m.LineageSubgraphQueryOptions
    start = m.StartingNodes(filter_query=f"id = {world.artifact}")
    bad: list[tuple[Any, str]] = [
        (Options(starting_artifacts="id = 1"), "StartingNodes"),  # type: ignore[arg-type]
        (Options(starting_artifacts=m.StartingNodes(filter_query=5)), "filter_query"),  # type: ignore[arg-type]
        (Options(starting_artifacts=start, ending_artifacts=start), "EndingNodes"),  # type: ignore[arg-type]
        (
            Options(
                starting_artifacts=start,
                ending_executions=m.EndingNodes(filter_query="id < 0", include_ending_nodes="y"),  # type: ignore[arg-type]
            ),
            "include_ending_nodes",
        ),
        (Options(starting_artifacts=start, max_num_hops=2.5), "max_num_hops"),  # type: ignore[arg-type]
        (Options(starting_artifacts=start, direction="sideways"), "direction"),  # type: ignore[arg-type]
    ]
    for options, match in bad:
        with pytest.raises(InvalidArgumentError, match=match):
            store.get_lineage_subgraph(options)
    for paths in (True, [["artifacts"]], "artifacts"):
        with pytest.raises(InvalidArgumentError, match="field_mask_paths"):
            store.get_lineage_subgraph(Options(starting_artifacts=start), paths)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="include_stop_nodes"):
        store.lineage(artifact_ids=[world.artifact], include_stop_nodes="no")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="artifacts_filter"):
        store.lineage(artifacts_filter=5)  # type: ignore[arg-type]
    graph = store.get_lineage_subgraph(Options(starting_artifacts=start), ["artifacts"])
    assert [a.id for a in graph.artifacts] == [world.artifact]
