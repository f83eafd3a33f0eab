"""Random and adversarial input on every backend: only mltrail errors, no SQL, nothing changed.

Filter strings (well-formed, almost well-formed and hostile: huge numbers, lone surrogates, deep
nesting, many aliases, long IN lists, megabytes of text) and ``put_*`` calls with junk in every
field are thrown at a small populated store. Every call must either succeed or raise a
:class:`~mltrail.errors.MltrailError` whose message holds no SQL; a failing call must leave every
table exactly as it was; no call may run past the store's statement timeout.

The runs are deterministic (derandomized) so that the suite is repeatable;
``MLTRAIL_FUZZ_EXAMPLES=N`` runs more examples and ``MLTRAIL_FUZZ_RANDOM=1`` explores new ones.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import mltrail as m
from mltrail.backends.sql import schema
from mltrail.errors import MltrailError

EXAMPLES = int(os.environ.get("MLTRAIL_FUZZ_EXAMPLES", "100"))
#: The statement timeout the fuzzed stores run with, in seconds, and the slack allowed on top of it
#: for a call (several statements, a retry, connection set-up).
TIMEOUT = 2.0
SLACK = 6.0
SQL = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|WITH RECURSIVE)\b")

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("MLTRAIL_FUZZ_RANDOM", "") in ("", "0"),
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


# ------------------------------------------------------------------------------------ the store


@pytest.fixture
def fuzzed(empty_url: str | None) -> Iterator[m.MetadataStore]:
    """A store with a little of everything, opened with a short statement timeout."""
    with m.connect(empty_url, statement_timeout=TIMEOUT) as store:
        populate(store)
        yield store


def populate(store: m.MetadataStore) -> None:
    props = {"rows": m.PropertyType.INT, "acc": m.PropertyType.DOUBLE}
    props |= {"split": m.PropertyType.STRING, "ok": m.PropertyType.BOOLEAN}
    props |= {"meta": m.PropertyType.STRUCT}
    store.put_artifact_type(m.ArtifactType(name="Dataset", properties=props))
    store.put_artifact_type(m.ArtifactType(name="Model"))
    store.put_artifact_type(m.ArtifactType(name="Model", version="v1"))
    trainer = m.ExecutionType(name="Trainer", properties={"lr": m.PropertyType.DOUBLE})
    store.put_execution_type(trainer)
    store.put_context_type(m.ContextType(name="Run", properties={"n": m.PropertyType.INT}))
    store.put_context_type(m.ContextType(name="Pipeline"))
    [pipeline] = store.put_contexts([m.Context(type="Pipeline", name="p")])
    for i in range(3):
        data = m.Artifact(
            type="Dataset",
            uri=f"s3://d/{i}.csv",
            name=f"d{i}",
            properties={"rows": i, "acc": i / 3, "split": "train", "ok": i % 2 == 0},
            custom_properties={"tag": f"t{i}", "meta": {"k": [i]}},
            state=m.ArtifactState.LIVE,
        )
        [data_id] = store.put_artifacts([data])
        _, _, [run] = store.put_execution(
            m.Execution(type="Trainer", name=f"e{i}", properties={"lr": 0.1 * i}),
            [
                (m.Artifact(id=data_id, type="Dataset"), m.Event(type=m.EventType.INPUT)),
                (m.Artifact(type="Model", uri=f"s3://m/{i}"), m.Event(type=m.EventType.OUTPUT)),
            ],
            [m.Context(type="Run", name=f"r{i}", properties={"n": i})],
        )
        store.put_parent_contexts([m.ParentContext(child_id=run, parent_id=pipeline)])


def table_dump(store: m.MetadataStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every mltrail table, in a comparable order."""
    dump = {}
    with store.database.connection() as conn:
        for table in schema.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*order)).fetchall()
            dump[table.name] = [tuple(row) for row in rows]
    return dump


def attempt(call: Callable[[], object]) -> MltrailError | None:
    """Run ``call``: it may succeed or raise an MltrailError without SQL, within the time bound."""
    started = time.monotonic()
    try:
        call()
        error = None
    except MltrailError as exc:
        error = exc
        assert not SQL.search(str(exc)), f"the message shows SQL: {exc}"
        assert type(exc).__module__ == "mltrail.errors"
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + SLACK, f"the call took {elapsed:.1f} s"
    return error


# ------------------------------------------------------------------------------------ filters

_ATTRIBUTES = [
    "id", "type_id", "name", "uri", "external_id", "state", "last_known_state", "type",
    "create_time_since_epoch", "last_update_time_since_epoch",
    "properties.rows", "properties.acc", "properties.split", "properties.ok", "properties.meta",
    "properties.rows.int_value", "properties.acc.double_value", "properties.split.string_value",
    "properties.ok.bool_value", "properties.nope", "custom_properties.tag",
    "custom_properties.meta.struct_value", "properties.`odd name`", "contexts_a.name",
    "contexts_b.type", "contexts_a.properties.n", "events_e.type",
    "events_e.milliseconds_since_epoch", "events_e.execution_id", "parent_contexts_p.name",
    "child_contexts_c.id", "artifacts_x.uri", "executions_y.last_known_state", "bogus",
]  # fmt: skip
_BARE = ["LIVE", "COMPLETE", "INPUT", "live", "NULL", "FOO", "TRUE", "FALSE", "x"]

integers = st.one_of(
    st.integers(-10, 10),
    st.integers(),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**40]),
)
numbers = st.one_of(
    integers.map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e999", "-1e999", "1e-999", "0.0", "1" * 5000, "1.5e308", ".5", "5."]),
)
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
strings = st.one_of(
    any_text.map(lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"),
    st.sampled_from(["'\ud800'", "'\udfff x'", "'%'", "'_%\\\\'", "'" + "x" * 100_000 + "'"]),
)
literals = st.one_of(numbers, strings, st.sampled_from(_BARE))
attributes = st.one_of(st.sampled_from(_ATTRIBUTES), st.from_regex(r"[a-z_]{1,12}", fullmatch=True))


@st.composite
def predicates(draw: st.DrawFn) -> str:
    attribute = draw(attributes)
    form = draw(st.sampled_from(["cmp", "like", "in", "between", "null"]))
    negate = draw(st.sampled_from(["", "NOT "]))
    if form == "cmp":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "<>", "=="]))
        return f"{attribute} {op} {draw(literals)}"
    if form == "like":
        return f"{attribute} {negate}LIKE {draw(literals)}"
    if form == "in":
        values = draw(st.lists(literals, min_size=0, max_size=8))
        return f"{attribute} {negate}IN ({', '.join(values)})"
    if form == "between":
        return f"{attribute} {negate}BETWEEN {draw(literals)} AND {draw(literals)}"
    return f"{attribute} IS {negate}NULL"


expressions = st.recursive(
    predicates(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR ", " and ", " "]), inner).map("".join),
        inner.map(lambda e: f"NOT {e}"),
        inner.map(lambda e: f"({e})"),
    ),
    max_leaves=12,
)


@st.composite
def hostile(draw: st.DrawFn) -> str:
    """Queries built to cost a lot or to break a layer below the grammar."""
    pick = draw(st.integers(0, 6))
    if pick == 0:  # deep nesting
        depth = draw(st.integers(1, 3000))
        return "(" * depth + "id = 1" + ")" * depth
    if pick == 1:
        return "NOT " * draw(st.integers(1, 3000)) + "id = 1"
    if pick == 2:  # many neighbour aliases, each a pair of joins
        n = draw(st.integers(1, 120))
        return " AND ".join(f"contexts_a{i}.name = 'r1'" for i in range(n))
    if pick == 3:  # many properties, each a join
        n = draw(st.integers(1, 120))
        return " OR ".join(f"custom_properties.p{i} = {i}" for i in range(n))
    if pick == 4:  # long IN lists
        n = draw(st.sampled_from([1, 100, 1000, 5000, 70_000]))
        return "id IN (" + ", ".join(str(i) for i in range(n)) + ")"
    if pick == 5:  # a long query of many conditions
        n = draw(st.integers(1, 5000))
        return " OR ".join(f"id = {i}" for i in range(n))
    return "name = '" + "x" * draw(st.sampled_from([10, 10_000, 5_000_000])) + "'"


def junk_text(alphabet: str) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), max_size=60)


queries = st.one_of(
    expressions,
    hostile(),
    junk_text("()'\"`.=<>!, _aAbN01eE-+\\\n\t%ORANDNOTLIKEIN"),
    any_text,
)


@FUZZ
@given(query=queries, kind=st.sampled_from(["artifacts", "executions", "contexts"]))
def test_filters_raise_only_mltrail_errors(fuzzed: m.MetadataStore, query: str, kind: str) -> None:
    listing = getattr(fuzzed, f"get_{kind}")
    attempt(lambda: listing(filter_query=query))


@FUZZ
@given(query=queries, direction=st.sampled_from(list(m.LineageDirection)))
def test_lineage_filters_raise_only_mltrail_errors(
    fuzzed: m.MetadataStore, query: str, direction: m.LineageDirection
) -> None:
    options = m.LineageSubgraphQueryOptions(
        starting_artifacts=m.StartingNodes(filter_query="uri LIKE 's3://d/%'"),
        ending_executions=m.EndingNodes(filter_query=query),
        direction=direction,
    )
    attempt(lambda: fuzzed.get_lineage_subgraph(options))


# ------------------------------------------------------------------------------------ writes

junk = st.one_of(
    st.none(),
    st.booleans(),
    integers,
    st.floats(),
    any_text,
    st.binary(max_size=8),
    st.sampled_from(["", "\x00", "\ud800", "x" * 300, "Dataset", "Model", "Run", "LIVE", [], {}]),
    st.lists(st.one_of(st.integers(), any_text, st.binary(max_size=4)), max_size=3),
    st.dictionaries(any_text, st.one_of(st.integers(), any_text), max_size=3),
    st.integers(1, 4000).map(lambda n: [[]] * 1 if n < 2 else _nested(n)),
)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


ids = st.one_of(st.integers(1, 12), junk)
hashable_junk = st.one_of(st.none(), st.booleans(), integers, st.floats(), any_text, st.binary())
prop_names = st.one_of(
    st.sampled_from(["rows", "acc", "split", "ok", "meta", "nope"]), hashable_junk
)
prop_maps = st.one_of(st.dictionaries(prop_names, junk, max_size=3), junk)


@st.composite
def nodes(draw: st.DrawFn, cls: type[Any]) -> Any:
    names = ["type_id", "type", "name", "external_id", "properties", "custom_properties", "id"]
    if cls is m.Artifact:
        names += ["uri", "state"]
    if cls is m.Execution:
        names += ["last_known_state"]
    values = {"type": draw(st.sampled_from(["Dataset", "Trainer", "Run", "Model"]))}
    values["name"] = draw(st.one_of(st.none(), any_text))
    for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        if name in ("properties", "custom_properties"):
            values[name] = draw(prop_maps)
        elif name in ("id", "type_id"):
            values[name] = draw(ids)
        else:
            values[name] = draw(junk)
    return cls(**values)


@st.composite
def types(draw: st.DrawFn, cls: type[Any]) -> Any:
    values = {"name": draw(st.one_of(st.sampled_from(["Dataset", "New"]), junk))}
    fields = ["properties", "version", "description", "external_id", "id"]
    declared = st.dictionaries(
        prop_names, st.one_of(st.sampled_from(list(m.PropertyType)), junk), max_size=3
    )
    for name in draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)):
        if name == "properties":
            values[name] = draw(st.one_of(declared, junk))
        else:
            values[name] = draw(junk)
    return cls(**values)


def _write_calls(store: m.MetadataStore) -> st.SearchStrategy[Callable[[], object]]:
    node_lists = {
        cls: st.one_of(st.lists(nodes(cls), min_size=1, max_size=3), junk)
        for cls in (m.Artifact, m.Execution, m.Context)
    }
    events = st.builds(
        m.Event,
        artifact_id=ids,
        execution_id=ids,
        type=st.one_of(st.sampled_from(list(m.EventType)), junk),
        path=st.one_of(st.lists(st.one_of(st.integers(), any_text), max_size=3), junk),
    )
    paths = st.sampled_from(["uri", "name", "properties.rows", "custom_properties.tag", "x"])
    masks = st.one_of(st.none(), st.lists(paths, max_size=2), junk)
    return st.one_of(
        st.tuples(node_lists[m.Artifact], masks).map(
            lambda a: lambda: store.put_artifacts(a[0], field_mask_paths=a[1])
        ),
        node_lists[m.Execution].map(lambda e: lambda: store.put_executions(e)),
        node_lists[m.Context].map(lambda c: lambda: store.put_contexts(c)),
        st.lists(events, max_size=3).map(lambda e: lambda: store.put_events(e)),
        st.tuples(ids, ids, ids, ids).map(
            lambda t: (
                lambda: store.put_attributions_and_associations(
                    [m.Attribution(artifact_id=t[0], context_id=t[1])],
                    [m.Association(execution_id=t[2], context_id=t[3])],
                )
            )
        ),
        st.tuples(ids, ids).map(
            lambda t: (
                lambda: store.put_parent_contexts([m.ParentContext(child_id=t[0], parent_id=t[1])])
            )
        ),
        st.tuples(
            nodes(m.Execution),
            st.lists(st.tuples(nodes(m.Artifact), events), max_size=2),
            st.lists(nodes(m.Context), max_size=2),
        ).map(lambda t: lambda: store.put_execution(t[0], t[1], t[2])),
        types(m.ArtifactType).map(lambda t: lambda: store.put_artifact_type(t)),
        types(m.ExecutionType).map(lambda t: lambda: store.put_execution_type(t, True, True)),
        types(m.ContextType).map(lambda t: lambda: store.put_context_type(t, can_add_fields=True)),
    )


@FUZZ
@given(data=st.data())
def test_writes_raise_only_mltrail_errors_and_change_nothing_when_they_fail(
    fuzzed: m.MetadataStore, data: st.DataObject
) -> None:
    call = data.draw(_write_calls(fuzzed))
    before = table_dump(fuzzed)
    if attempt(call) is not None:
        assert table_dump(fuzzed) == before, "a failing call changed the store"
    # Whatever happened, the store still answers.
    fuzzed.get_artifacts(limit=1)


#: Read methods and how many arguments each takes.
_READS = {
    "get_artifacts_by_id": 1, "get_executions_by_id": 1, "get_contexts_by_id": 1,
    "get_artifacts_by_type": 2, "get_executions_by_context": 1, "get_artifacts_by_context": 1,
    "get_contexts_by_artifact": 1, "get_artifacts_by_uri": 1, "get_artifacts_by_external_ids": 1,
    "get_events_by_artifact_ids": 1, "get_parent_contexts_by_context": 1,
    "get_artifact_type": 2, "get_artifact_types_by_id": 1, "get_artifact_by_type_and_name": 2,
    "get_provenance": 1, "get_impact": 1, "compare_artifacts": 2, "find_cached_execution": 1,
    "get_context_dag": 1, "get_artifacts_and_types_by_artifact_ids": 1,
}  # fmt: skip


@FUZZ
@given(
    method=st.sampled_from(sorted(_READS)),
    args=st.lists(st.one_of(ids, st.lists(ids, max_size=3)), min_size=2, max_size=2),
    limit=st.one_of(st.none(), junk),
    token=st.one_of(st.none(), junk, st.binary(max_size=40).map(lambda b: b.hex())),
)
def test_reads_raise_only_mltrail_errors(
    fuzzed: m.MetadataStore, method: str, args: list[Any], limit: Any, token: Any
) -> None:
    call = getattr(fuzzed, method)
    attempt(lambda: call(*args[: _READS[method]]))
    attempt(lambda: fuzzed.get_artifacts(limit=limit, page_token=token))
