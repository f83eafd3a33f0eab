"""Every public MetadataStore method, called with junk in each argument position, raises only
mltrail errors and leaves the store as it was.

One test per backend walks the whole table (a fresh store per call would be far too slow): it
takes a dump of every table before the sweep and after each failed write, and compares.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePosixPath
from typing import Any

import pytest

import mltrail as m
from _dump import dump
from mltrail._plain import short
from mltrail.backends.sql.database import Database
from mltrail.errors import MltrailError
from mltrail.query.fingerprint import Fingerprint

# The remote client is exercised on one server here (one_remote, see tests/conftest.py).
pytestmark = pytest.mark.one_remote

T = m.EventType
P = m.PropertyType


class Opaque:
    """An object of no type the store knows."""

    def __repr__(self) -> str:
        return "Opaque()"


JUNK: list[Any] = [
    None,
    True,
    2.9,
    float("nan"),
    "1",
    "x",
    "",
    "\ud800",
    "a\x00b",
    b"1",
    {},
    {"k": "v"},
    {1: 2},
    [],
    [None],
    [True],
    [2.9],
    ["1"],
    ["\ud800"],
    ["a\x00b"],
    [2**63],
    [-1],
    [[1]],
    [{}],
    0,
    -1,
    2**63,
    -(2**63) - 1,
    10**30,
    PurePosixPath("p"),
    Opaque(),
    m.ListOptions(limit=-1),
    m.Artifact(),
    m.Event(),
]


@dataclass
class World:
    at: int
    et: int
    ct: int
    artifacts: list[int]
    executions: list[int]
    contexts: list[int]
    fingerprint: Any
    stored_execution: m.Execution


def populate(store: m.MetadataStore) -> World:
    at = store.put_artifact_type(m.ArtifactType(name="Data", properties={"rows": P.INT}))
    et = store.put_execution_type(m.ExecutionType(name="Step", properties={"lr": P.DOUBLE}))
    ct = store.put_context_type(m.ContextType(name="Run"))
    artifacts = store.put_artifacts(
        [
            m.Artifact(
                type_id=at, name="in", uri="/in", external_id="in-ext", properties={"rows": 1}
            ),
            m.Artifact(type_id=at, name="out", uri="/out", custom_properties={"s": {"a": [1]}}),
        ]
    )
    fp = store.fingerprint("Step", parameters={"lr": 0.1}, input_artifact_ids=[artifacts[0]])
    execution = fp.apply(
        m.Execution(type_id=et, name="run", last_known_state=m.ExecutionState.COMPLETE)
    )
    executions = store.put_executions([execution])
    contexts = store.put_contexts(
        [m.Context(type_id=ct, name="c1", external_id="c1-ext"), m.Context(type_id=ct, name="c2")]
    )
    store.put_events(
        [
            m.Event(artifact_id=artifacts[0], execution_id=executions[0], type=T.INPUT),
            m.Event(artifact_id=artifacts[1], execution_id=executions[0], type=T.OUTPUT),
        ]
    )
    store.put_attributions_and_associations(
        [m.Attribution(artifact_id=a, context_id=contexts[0]) for a in artifacts],
        [m.Association(execution_id=executions[0], context_id=contexts[0])],
    )
    store.put_parent_contexts([m.ParentContext(child_id=contexts[1], parent_id=contexts[0])])
    [stored] = store.get_executions_by_id(executions)
    return World(at, et, ct, artifacts, executions, contexts, fp, stored)


Args = tuple[tuple[Any, ...], dict[str, Any]]


def base_calls(w: World) -> dict[str, Callable[[], Args]]:
    """A valid call of every public method (a write's call is valid but fails or changes
    nothing only when its junk is refused)."""
    a, e, c = w.artifacts[0], w.executions[0], w.contexts[0]
    listing = {"filter_query": "id > 0", "order_by": "id", "ascending": True, "limit": 5}
    calls: dict[str, Callable[[], Args]] = {
        "compare_artifacts": lambda: ((a, w.artifacts[1]), {}),
        "compare_nodes": lambda: ((), {"artifact_ids": [a, w.artifacts[1]]}),
        "explain_cache_miss": lambda: (
            (w.fingerprint,),
            {"candidates": 10, "before_execution_id": e},
        ),
        "find_cached_execution": lambda: ((w.fingerprint,), {"before_execution_id": e}),
        "fingerprint": lambda: (
            ("Step",),
            {
                "parameters": {"lr": 0.1},
                "code_version": "v1",
                "input_artifact_ids": [a],
                "inputs": {"x": "sha:1"},
                "type_version": None,
            },
        ),
        "get_artifact_consumers": lambda: ((a,), {}),
        "get_artifact_producers": lambda: ((a,), {}),
        "get_children_contexts_by_context": lambda: ((c,), {}),
        "get_parent_contexts_by_context": lambda: ((c,), {}),
        "get_children_contexts_by_contexts": lambda: (([c],), {}),
        "get_parent_contexts_by_contexts": lambda: (([c],), {}),
        "get_contexts_by_artifact": lambda: ((a,), {}),
        "get_contexts_by_execution": lambda: ((e,), {}),
        "get_context_dag": lambda: ((c,), {"include_child_contexts": True}),
        "get_events_by_artifact_ids": lambda: (([a],), {}),
        "get_events_by_execution_ids": lambda: (([e],), {}),
        "get_impact": lambda: ((a,), {"max_hops": 2}),
        "get_provenance": lambda: ((a,), {"max_hops": 2}),
        "get_lineage_subgraph": lambda: (
            (
                m.LineageSubgraphQueryOptions(
                    starting_artifacts=m.StartingNodes(filter_query=f"id = {a}"), max_num_hops=2
                ),
            ),
            {"field_mask_paths": ["artifacts"]},
        ),
        "lineage": lambda: (
            (),
            {
                "artifact_ids": [a],
                "execution_ids": [e],
                "artifacts_filter": "id > 0",
                "executions_filter": "id > 0",
                "direction": "both",
                "max_hops": 4,
                "stop_at_artifacts": "id < 0",
                "stop_at_executions": "id < 0",
                "include_stop_nodes": False,
                "max_nodes": 10,
            },
        ),
        "get_artifacts_and_types_by_artifact_ids": lambda: (([a],), {}),
        # Writes: valid, and changing nothing (the nodes are given as they are stored).
        "put_attributions_and_associations": lambda: (
            (
                [m.Attribution(artifact_id=a, context_id=c)],
                [m.Association(execution_id=e, context_id=c)],
            ),
            {},
        ),
        "put_parent_contexts": lambda: (([],), {}),
        "put_events": lambda: (([],), {}),
        "put_execution": lambda: (
            (w.stored_execution, [], []),
            {
                "reuse_context_if_already_exist": False,
                "reuse_artifact_if_already_exist_by_external_id": False,
                "force_reuse_context": False,
                "force_update_time": False,
            },
        ),
        "put_lineage_subgraph": lambda: (
            ([], [], [], []),
            {
                "reuse_context_if_already_exist": False,
                "reuse_artifact_if_already_exist_by_external_id": False,
            },
        ),
    }
    ids = {"artifact": w.artifacts, "execution": w.executions, "context": w.contexts}
    type_ids = {"artifact": w.at, "execution": w.et, "context": w.ct}
    type_names = {"artifact": "Data", "execution": "Step", "context": "Run"}
    node_names = {"artifact": "in", "execution": "run", "context": "c1"}
    for kind, plural in (
        ("artifact", "artifacts"),
        ("execution", "executions"),
        ("context", "contexts"),
    ):
        first, tid, tname = ids[kind][0], type_ids[kind], type_names[kind]
        calls[f"get_{kind}_type"] = lambda n=tname: ((n,), {"type_version": None})
        calls[f"get_{kind}_types"] = lambda: ((), {})
        calls[f"get_{kind}_types_by_id"] = lambda t=tid: (([t],), {})
        calls[f"get_{kind}_types_by_external_ids"] = lambda: ((["none"],), {})
        calls[f"get_{plural}"] = lambda: ((None,), dict(listing))
        calls[f"get_{plural}_by_id"] = lambda i=first: (([i],), {})
        calls[f"get_{plural}_by_type"] = lambda n=tname: ((n, None, None), dict(listing))
        calls[f"get_{kind}_by_type_and_name"] = lambda n=tname, k=kind: (
            (n, node_names[k]),
            {"type_version": None},
        )
        calls[f"get_{plural}_by_external_ids"] = lambda: ((["in-ext", "c1-ext"],), {})
        # A type put again as stored changes nothing.
        calls[f"put_{kind}_type"] = lambda k=kind, n=tname: (
            (_stored_type(k, n),),
            {"can_add_fields": False, "can_omit_fields": True},
        )
        calls[f"put_{plural}"] = lambda: (([],), {"field_mask_paths": None})
        # The iterators read their first page at the call, so bad options raise there.
        calls[f"iter_{plural}"] = lambda: ((None,), {**listing, "limit": None, "page_size": 2})
        calls[f"count_{plural}"] = lambda: ((), {"filter_query": "id > 0"})
        calls[f"count_{plural}_by_type"] = lambda: ((), {"filter_query": "id > 0"})
    for kind in ("artifact", "execution"):
        calls[f"get_{kind}s_by_context"] = lambda: ((c, None), dict(listing))
    calls["get_artifacts_by_uri"] = lambda: (("/in",), {})
    return calls


def _stored_type(kind: str, name: str) -> Any:
    cls = {"artifact": m.ArtifactType, "execution": m.ExecutionType, "context": m.ContextType}
    return cls[kind](name=name)


def is_write(name: str) -> bool:
    return name.startswith("put_")


def positions(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[int | str]:
    return [*range(len(args)), *kwargs]


@dataclass
class Sweep:
    """Outcomes of junk calls: raw errors that escaped, failed writes that changed the store."""

    store: m.MetadataStore
    database: Database
    escaped: dict[str, list[str]] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    _dumped: list[tuple[Any, ...]] | None = None

    def group(self, label: str, calls: list[tuple[Any, Callable[[], object]]], write: bool) -> None:
        """Run ``calls`` (junk, call): the call of ``label`` with that junk.

        For writes the store is dumped before and after the group. When it changed (a call
        that succeeded may change it), the calls that failed run again between two dumps: they
        must leave the store as it was.
        """
        if not write:
            for junk, call in calls:
                self._run(label, junk, call)
            return
        before = self._dumped if self._dumped is not None else dump(self.database)
        succeeded = [self._run(label, junk, call) for junk, call in calls]
        self._dumped = dump(self.database)
        if self._dumped == before:
            return
        failed = [(junk, call) for (junk, call), ok in zip(calls, succeeded) if not ok]
        start = self._dumped
        now = [self._run(label, junk, call) for junk, call in failed]
        self._dumped = dump(self.database)
        if self._dumped == start:
            return
        if not any(now):
            self.changed.append(f"{label} with one of " + ", ".join(short(j) for j, _ in failed))
            return
        for junk, call in failed:  # some succeed now: look at each call
            ahead = dump(self.database)
            if not self._run(label, junk, call) and dump(self.database) != ahead:
                self.changed.append(f"{label} with {short(junk)}")
        self._dumped = None

    def forget(self) -> None:
        """The store may have changed outside the sweep: dump it afresh."""
        self._dumped = None

    def _run(self, label: str, junk: Any, call: Callable[[], object]) -> bool:
        """Whether ``call`` succeeded; raw errors are recorded."""
        try:
            call()
        except MltrailError:
            return False
        except Exception as exc:
            key = f"{label} {type(exc).__name__}: {str(exc)[:80]}"
            self.escaped.setdefault(key, []).append(short(junk)[:20])
            return False
        return True

    def check(self) -> None:
        report = [f"{key} <- {', '.join(values)}" for key, values in self.escaped.items()]
        assert not report, "raw errors escaped:\n" + "\n".join(report)
        assert not self.changed, "failed calls changed the store:\n" + "\n".join(self.changed)


def with_junk(
    method: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any], where: int | str
) -> Callable[[Any], Callable[[], object]]:
    def make(junk: Any) -> Callable[[], object]:
        call_args, call_kwargs = list(args), dict(kwargs)
        if isinstance(where, int):
            call_args[where] = junk
        else:
            call_kwargs[where] = junk
        return lambda: method(*call_args, **call_kwargs)

    return make


def test_every_method_refuses_junk_with_mltrail_errors(
    store: m.MetadataStore, backing_database: Database
) -> None:
    world = populate(store)
    calls = base_calls(world)
    public = sorted(
        name
        for name, member in inspect.getmembers(m.MetadataStore)
        # transaction() takes nothing (tests/store/test_transactions.py)
        if not name.startswith("_") and callable(member) and name not in ("close", "transaction")
    )
    assert sorted(calls) == public, "every public method needs a base call in this sweep"
    sweep = Sweep(store, backing_database)
    for name in public:
        method = getattr(store, name)
        args, kwargs = calls[name]()
        method(*args, **kwargs)  # the base call is valid
        sweep.forget()
        for where in positions(args, kwargs):
            make = with_junk(method, args, kwargs, where)
            sweep.group(f"{name}[{where}]", [(junk, make(junk)) for junk in JUNK], is_write(name))
    sweep.check()


# ------------------------------------------------------------------------------- fields of objects

DEEP: Any = []
for _ in range(10_000):
    DEEP = [DEEP]

FIELD_JUNK: list[Any] = [
    None,
    True,
    2.9,
    "x",
    "",
    "\ud800",
    "a\x00b",
    b"1",
    {},
    {"k": "\ud800"},
    {1: 2},
    [1],
    [b"1"],
    ["\ud800"],
    DEEP,
    2**63,
    -1,
    10**30,
    float("inf"),
    Opaque(),
]


def field_calls(store: m.MetadataStore, w: World) -> dict[str, Callable[[Any], object]]:
    """``label -> call(junk)``: a valid write or read with ``junk`` in one field of one of the
    objects it is given."""
    a, e, c = w.artifacts, w.executions[0], w.contexts
    out: dict[str, Callable[[Any], object]] = {}

    def fields_of(cls: type[Any]) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def node(cls: type[Any], field_name: str, junk: Any, /, **base: Any) -> Any:
        return cls(**{**base, field_name: junk})

    for f in fields_of(m.Artifact):
        out[f"put_artifacts(new Artifact.{f})"] = lambda j, f=f: store.put_artifacts(
            [node(m.Artifact, f, j, type_id=w.at, uri="/new")]
        )
        out[f"put_artifacts(Artifact.{f} of an update)"] = lambda j, f=f: store.put_artifacts(
            [node(m.Artifact, f, j, id=a[0], type_id=w.at, name="in", uri="/in")],
            field_mask_paths=["uri", f"properties.{f}"],
        )
        out[f"put_execution((Artifact.{f}, event))"] = lambda j, f=f: store.put_execution(
            m.Execution(type_id=w.et),
            [(node(m.Artifact, f, j, type_id=w.at), m.Event(type=T.OUTPUT))],
            [],
            reuse_artifact_if_already_exist_by_external_id=True,
        )
        if f in ("id", "external_id"):  # the rest is put_execution's code
            out[f"put_lineage_subgraph(Artifact.{f})"] = lambda j, f=f: store.put_lineage_subgraph(
                [], [node(m.Artifact, f, j, type_id=w.at)], [], [], True, True
            )
    for f in fields_of(m.Execution):
        out[f"put_executions(new Execution.{f})"] = lambda j, f=f: store.put_executions(
            [node(m.Execution, f, j, type_id=w.et)]
        )
        out[f"put_execution(Execution.{f})"] = lambda j, f=f: store.put_execution(
            node(m.Execution, f, j, type_id=w.et), [], [], force_update_time=True
        )
    for f in fields_of(m.Context):
        out[f"put_contexts(new Context.{f})"] = lambda j, f=f: store.put_contexts(
            [node(m.Context, f, j, type_id=w.ct, name="new-context")]
        )
        out[f"put_execution(contexts=[Context.{f}])"] = lambda j, f=f: store.put_execution(
            m.Execution(id=e),
            [],
            [node(m.Context, f, j, type_id=w.ct, name="c1")],
            reuse_context_if_already_exist=True,
        )
    for cls in (m.ArtifactType, m.ExecutionType, m.ContextType):
        put = {
            m.ArtifactType: store.put_artifact_type,
            m.ExecutionType: store.put_execution_type,
            m.ContextType: store.put_context_type,
        }[cls]
        for f in fields_of(cls):
            out[f"put type ({cls.__name__}.{f})"] = lambda j, f=f, cls=cls, put=put: put(
                node(cls, f, j, name="NewType"), can_add_fields=True, can_omit_fields=True
            )
        out[f"put type ({cls.__name__}.properties value)"] = lambda j, cls=cls, put=put: put(
            cls(name="NewType", properties={"p": j}), can_add_fields=True, can_omit_fields=True
        )
        out[f"put type ({cls.__name__}.properties name)"] = lambda j, cls=cls, put=put: put(
            cls(name="NewType", properties={_key(j): P.INT}),
            can_add_fields=True,
            can_omit_fields=True,
        )
    for group in ("properties", "custom_properties"):
        out[f"put_artifacts({group} value)"] = lambda j, g=group: store.put_artifacts(
            [m.Artifact(type_id=w.at, **{g: {"rows": j}})]
        )
        out[f"put_artifacts({group} name)"] = lambda j, g=group: store.put_artifacts(
            [m.Artifact(type_id=w.at, **{g: {_key(j): 1}})]
        )
    for f in fields_of(m.Event):
        out[f"put_events(Event.{f})"] = lambda j, f=f: store.put_events(
            [node(m.Event, f, j, artifact_id=a[1], execution_id=e, type=T.DECLARED_INPUT)]
        )
        out[f"put_execution((artifact, Event.{f}))"] = lambda j, f=f: store.put_execution(
            m.Execution(type_id=w.et),
            [(None, node(m.Event, f, j, artifact_id=a[0], type=T.INPUT))],
            [],
        )
        out[f"put_lineage_subgraph(Event.{f})"] = lambda j, f=f: store.put_lineage_subgraph(
            [m.Execution(type_id=w.et)],
            [],
            [],
            [(0, None, node(m.Event, f, j, artifact_id=a[0], type=T.INPUT))],
        )
    out["put_events(path step)"] = lambda j: store.put_events(
        [m.Event(artifact_id=a[1], execution_id=e, type=T.DECLARED_INPUT, path=[j])]
    )
    for index in (0, 1):
        out[f"put_lineage_subgraph(edge index {index})"] = lambda j, i=index: (
            store.put_lineage_subgraph(
                [m.Execution(type_id=w.et)],
                [m.Artifact(type_id=w.at)],
                [],
                [(j, 0, m.Event(type=T.INPUT)) if i == 0 else (0, j, m.Event(type=T.INPUT))],
            )
        )
    for cls, base in (
        (m.Attribution, {"artifact_id": a[1], "context_id": c[1]}),
        (m.Association, {"execution_id": e, "context_id": c[1]}),
    ):
        for f in fields_of(cls):
            attributions = lambda j, f=f, cls=cls, base=base: [node(cls, f, j, **base)]  # noqa: E731
            out[f"put_attributions_and_associations({cls.__name__}.{f})"] = (
                lambda j, cls=cls, make=attributions: store.put_attributions_and_associations(
                    make(j) if cls is m.Attribution else [], make(j) if cls is m.Association else []
                )
            )
    for f in fields_of(m.ParentContext):
        out[f"put_parent_contexts(ParentContext.{f})"] = lambda j, f=f: store.put_parent_contexts(
            [node(m.ParentContext, f, j, child_id=c[0], parent_id=c[1])]
        )
    for f in fields_of(m.ListOptions):
        out[f"get_artifacts(ListOptions.{f})"] = lambda j, f=f: store.get_artifacts(
            node(m.ListOptions, f, j, limit=1)
        )
        out[f"get_executions_by_context(ListOptions.{f})"] = lambda j, f=f: (
            store.get_executions_by_context(c[0], node(m.ListOptions, f, j, limit=1))
        )
    start = m.StartingNodes(filter_query="id > 0")
    for f in fields_of(m.LineageSubgraphQueryOptions):
        out[f"get_lineage_subgraph(options.{f})"] = lambda j, f=f: store.get_lineage_subgraph(
            node(m.LineageSubgraphQueryOptions, f, j, starting_artifacts=start)
        )
    out["get_lineage_subgraph(StartingNodes.filter_query)"] = lambda j: store.get_lineage_subgraph(
        m.LineageSubgraphQueryOptions(starting_executions=m.StartingNodes(filter_query=j))
    )
    for f in fields_of(m.EndingNodes):
        out[f"get_lineage_subgraph(EndingNodes.{f})"] = lambda j, f=f: store.get_lineage_subgraph(
            m.LineageSubgraphQueryOptions(
                starting_artifacts=start,
                ending_executions=node(m.EndingNodes, f, j, filter_query="id < 0"),
            )
        )
    out["fingerprint(parameters value)"] = lambda j: store.fingerprint("Step", parameters={"p": j})
    out["fingerprint(inputs value)"] = lambda j: store.fingerprint("Step", inputs={"x": j})
    out["find_cached_execution(Fingerprint.code_version)"] = lambda j: store.find_cached_execution(
        Fingerprint("Step", {}, j, {})
    )
    out["explain_cache_miss(Fingerprint.type_version)"] = lambda j: store.explain_cache_miss(
        Fingerprint("Step", {}, None, {}, j)
    )
    return out


def _key(junk: Any) -> Any:
    """``junk`` as a dict key (unhashable junk becomes its repr)."""
    try:
        hash(junk)
    except TypeError:
        return short(junk)
    return junk


def test_every_field_of_every_argument_refuses_junk_with_mltrail_errors(
    store: m.MetadataStore, backing_database: Database
) -> None:
    world = populate(store)
    sweep = Sweep(store, backing_database)
    for label, call in field_calls(store, world).items():
        write = label.startswith("put")
        sweep.group(label, [(junk, partial(call, junk)) for junk in FIELD_JUNK], write)
    sweep.check()
