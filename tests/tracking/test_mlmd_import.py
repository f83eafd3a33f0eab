"""``import_mlmd`` and ``mltrail import mlmd``: an ML Metadata database written by ML Metadata
itself (SQLite files, and MariaDB) is imported into stores on every backend. Every type, node,
property, event, membership and parent link arrives with its times; importing again adds
nothing; an import after the MLMD database grew adds just what changed; a malformed database is
refused by name, with the store unchanged."""

from __future__ import annotations

import base64
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import required

if required():  # CI installs ML Metadata: without it this module fails there, never skips
    import ml_metadata  # noqa: F401
metadata_store = pytest.importorskip("ml_metadata.metadata_store.metadata_store")
pb = pytest.importorskip("ml_metadata.proto.metadata_store_pb2")
mlmd_errors = pytest.importorskip("ml_metadata.errors")

from google.protobuf import any_pb2, json_format  # noqa: E402  (installed with ml_metadata)
from sqlalchemy import select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import mltrail  # noqa: E402
from _canon import canon  # noqa: E402
from _cli import failed, ok  # noqa: E402
from _dump import dump  # noqa: E402
from _servers import Server, need  # noqa: E402
from mltrail import MetadataStore  # noqa: E402
from mltrail.compat.mlmd import import_mlmd, source_site  # noqa: E402
from mltrail.errors import (  # noqa: E402
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    SchemaVersionError,
    SyncConflictError,
)
from mltrail.sync._tables import ALIAS  # noqa: E402

# ---------------------------------------------------------------------------------- MLMD side


def sqlite_config(path: Path) -> Any:
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return config


def open_mlmd(path: Path) -> Any:
    return metadata_store.MetadataStore(sqlite_config(path))


def packed(name: str) -> Any:
    value = any_pb2.Any()
    value.Pack(pb.Artifact(name=name, uri="inner://x"))
    return value


def populate(mlmd: Any, big: int = 2**40) -> dict[str, int]:
    """A small graph using every feature of MLMD's model; returns the ids by name. ``big``: a
    large integer value (MLMD's int_value holds 32 bits on MySQL, 64 on SQLite)."""
    dataset = pb.ArtifactType(
        name="Dataset",
        version="v1",
        description="training data",
        external_id="type:dataset",
        base_type=pb.ArtifactType.DATASET,
    )
    for name, kind in (
        ("day", pb.INT),
        ("score", pb.DOUBLE),
        ("split", pb.STRING),
        ("stats", pb.STRUCT),
        ("schema", pb.PROTO),
        ("ok", pb.BOOLEAN),
    ):
        dataset.properties[name] = kind
    ids = {
        "Dataset": mlmd.put_artifact_type(dataset),
        "Model": mlmd.put_artifact_type(
            pb.ArtifactType(name="Model", base_type=pb.ArtifactType.MODEL)
        ),
    }
    trainer = pb.ExecutionType(name="Trainer", version="2", base_type=pb.ExecutionType.TRAIN)
    trainer.properties["lr"] = pb.DOUBLE
    ids["Trainer"] = mlmd.put_execution_type(trainer)
    ids["Evaluator"] = mlmd.put_execution_type(pb.ExecutionType(name="Evaluator"))
    run_type = pb.ContextType(name="Run", description="a run")
    run_type.properties["owner"] = pb.STRING
    ids["Run"] = mlmd.put_context_type(run_type)
    ids["Pipeline"] = mlmd.put_context_type(
        pb.ContextType(name="Pipeline", external_id="type:pipeline")
    )
    r1 = pb.Context(type_id=ids["Run"], name="r1")
    r1.properties["owner"].string_value = "kim"
    r1.custom_properties["config"].struct_value.update({"seed": 7, "tags": ["a", "b"]})
    r2 = pb.Context(type_id=ids["Run"], name="r2", external_id="ctx:r2")
    # The pipeline comes last, so that its runs name a parent of a higher id.
    pipeline = pb.Context(type_id=ids["Pipeline"], name="p", external_id="ctx:p")
    ids["r1"], ids["r2"], ids["p"] = mlmd.put_contexts([r1, r2, pipeline])
    d1 = pb.Artifact(
        type_id=ids["Dataset"], uri="s3://d/1", name="d1", external_id="art:d1", state=2
    )
    d1.properties["day"].int_value = -3
    d1.properties["score"].double_value = 0.25
    d1.properties["split"].string_value = "train ✓"
    d1.properties["stats"].struct_value.update({"rows": 10, "cols": {"x": None, "y": True}})
    d1.properties["schema"].proto_value.CopyFrom(packed("schema"))
    d1.properties["ok"].bool_value = False
    d2 = pb.Artifact(type_id=ids["Dataset"], uri="s3://d/2")
    d2.custom_properties["n"].int_value = big
    d2.custom_properties["x"].double_value = -1.5e300
    d2.custom_properties["s"].string_value = ""
    d2.custom_properties["b"].bool_value = True
    d2.custom_properties["st"].struct_value.update({"list": [1, "two", [3.5]]})
    d2.custom_properties["pr"].proto_value.CopyFrom(packed("custom"))
    d2.custom_properties["day"].int_value = 9  # a custom key named like a declared one
    m1 = pb.Artifact(type_id=ids["Model"], uri="s3://m/1", name="m1", state=pb.Artifact.PENDING)
    ids["d1"], ids["d2"], ids["m1"] = mlmd.put_artifacts([d1, d2, m1])
    t1 = pb.Execution(type_id=ids["Trainer"], last_known_state=pb.Execution.COMPLETE)
    t1.properties["lr"].double_value = 0.1
    t1.custom_properties["args"].struct_value.update({"epochs": 3})
    e1 = pb.Execution(
        type_id=ids["Evaluator"], name="eval", external_id="exe:e1", last_known_state=2
    )
    ids["t1"], ids["e1"] = mlmd.put_executions([t1, e1])

    def event(artifact: str, execution: str, kind: int, *steps: int | str, ms: int = 0) -> Any:
        made = pb.Event(artifact_id=ids[artifact], execution_id=ids[execution], type=kind)
        for step in steps:
            if isinstance(step, int):
                made.path.steps.add().index = step
            else:
                made.path.steps.add().key = step
        if ms:
            made.milliseconds_since_epoch = ms
        return made

    mlmd.put_events(
        [
            event("d1", "t1", pb.Event.INPUT, "train", 0),
            event("d2", "t1", pb.Event.INPUT, 0, "k", 2),
            event("m1", "t1", pb.Event.OUTPUT),
            event("m1", "e1", pb.Event.INPUT),
            event("d2", "e1", pb.Event.DECLARED_OUTPUT, "out", ms=5),
        ]
    )
    mlmd.put_attributions_and_associations(
        [
            pb.Attribution(artifact_id=ids["d1"], context_id=ids["r1"]),
            pb.Attribution(artifact_id=ids["m1"], context_id=ids["r1"]),
            pb.Attribution(artifact_id=ids["m1"], context_id=ids["r2"]),
        ],
        [
            pb.Association(execution_id=ids["t1"], context_id=ids["r1"]),
            pb.Association(execution_id=ids["e1"], context_id=ids["r2"]),
        ],
    )
    mlmd.put_parent_contexts(
        [
            pb.ParentContext(child_id=ids["r1"], parent_id=ids["p"]),
            pb.ParentContext(child_id=ids["r2"], parent_id=ids["p"]),
        ]
    )
    return ids


def mlmd_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "struct_value":
        return json_format.MessageToDict(value.struct_value)
    if which == "proto_value":
        raw = value.proto_value
        return {"@type": raw.type_url, "value": base64.b64encode(raw.value).decode()}
    return getattr(value, which)


def mlmd_view(mlmd: Any) -> dict[str, Any]:
    """What the MLMD database holds, by MLMD ids, read through ML Metadata."""

    def props(values: Any) -> dict[str, Any]:
        return {k: mlmd_value(v) for k, v in values.items()}

    def optional(message: Any, field: str) -> Any:
        return getattr(message, field) if message.HasField(field) else None

    def node(n: Any, *fields: str) -> tuple[Any, ...]:
        return (
            n.type,
            optional(n, "name"),
            optional(n, "external_id"),
            *[optional(n, f) for f in fields],
            props(n.properties),
            props(n.custom_properties),
            n.create_time_since_epoch,
            n.last_update_time_since_epoch,
        )

    def kind_types(types: Any, kind: int) -> dict[Any, Any]:
        out = {}
        for t in types:
            declared = {k: (4 if v == pb.PROTO else int(v)) for k, v in t.properties.items()}
            base = getattr(t, "base_type", 0) or None
            key = (kind, t.name, t.version)
            out[key] = (optional(t, "description"), optional(t, "external_id"), base, declared)
        return out

    def by_id(listing: Any, get: Any) -> list[Any]:
        return list(get([t.id for t in listing()]))

    def found(method: Any, node_id: int) -> list[Any]:
        try:
            return list(method(node_id))
        except mlmd_errors.NotFoundError:  # ML Metadata's way of saying "none"
            return []

    artifacts = mlmd.get_artifacts()
    executions = mlmd.get_executions()
    contexts = mlmd.get_contexts()
    events = mlmd.get_events_by_execution_ids([e.id for e in executions])
    return {
        "types": {
            # get_*_types() leaves the external ids out; get_*_types_by_id gives them.
            **kind_types(by_id(mlmd.get_artifact_types, mlmd.get_artifact_types_by_id), 1),
            **kind_types(by_id(mlmd.get_execution_types, mlmd.get_execution_types_by_id), 2),
            **kind_types(by_id(mlmd.get_context_types, mlmd.get_context_types_by_id), 3),
        },
        "artifacts": {a.id: node(a, "uri", "state") for a in artifacts},
        "executions": {e.id: node(e, "last_known_state") for e in executions},
        "contexts": {c.id: node(c) for c in contexts},
        "events": {
            (
                ev.artifact_id,
                ev.execution_id,
                ev.type,
                tuple(s.index if s.HasField("index") else s.key for s in ev.path.steps),
                ev.milliseconds_since_epoch,
            )
            for ev in events
        },
        "attributions": {
            (a.id, c.id) for a in artifacts for c in found(mlmd.get_contexts_by_artifact, a.id)
        },
        "associations": {
            (e.id, c.id) for e in executions for c in found(mlmd.get_contexts_by_execution, e.id)
        },
        "parents": {
            (c.id, p.id) for c in contexts for p in found(mlmd.get_parent_contexts_by_context, c.id)
        },
    }


# ------------------------------------------------------------------------------- mltrail side


def origins(store: MetadataStore) -> dict[int, dict[int, int]]:
    """Node kind -> local id -> the id it had in the MLMD database (its global id's)."""

    def run(conn: Any) -> dict[int, dict[int, int]]:
        out: dict[int, dict[int, int]] = {1: {}, 2: {}, 3: {}}
        for kind, local_id, origin_id in conn.execute(
            select(ALIAS.c.kind, ALIAS.c.local_id, ALIAS.c.origin_id)
        ):
            out[kind][local_id] = origin_id
        return out

    return store.database.run(run, write=False)


def mltrail_view(store: MetadataStore) -> dict[str, Any]:
    """What the store holds, in the form of :func:`mlmd_view` (MLMD's ids, from the aliases)."""
    ids = origins(store)
    a_id, e_id, c_id = ids[1], ids[2], ids[3]

    def artifact(a: Any) -> tuple[Any, ...]:
        state = None if a.state is None else int(a.state)
        return (a.type, a.name, a.external_id, a.uri, state, a.properties, a.custom_properties,
                a.create_time_since_epoch, a.last_update_time_since_epoch)  # fmt: skip

    def execution(e: Any) -> tuple[Any, ...]:
        state = None if e.last_known_state is None else int(e.last_known_state)
        return (e.type, e.name, e.external_id, state, e.properties, e.custom_properties,
                e.create_time_since_epoch, e.last_update_time_since_epoch)  # fmt: skip

    def context(c: Any) -> tuple[Any, ...]:
        return (c.type, c.name, c.external_id, c.properties, c.custom_properties,
                c.create_time_since_epoch, c.last_update_time_since_epoch)  # fmt: skip

    def kind_types(types: Any, kind: int) -> dict[Any, Any]:
        return {
            (kind, t.name, t.version or ""): (
                t.description,
                t.external_id,
                None if getattr(t, "base_type", None) is None else int(t.base_type),
                {k: int(v) for k, v in t.properties.items()},
            )
            for t in types
        }

    artifacts = store.get_artifacts()
    executions = store.get_executions()
    contexts = store.get_contexts()
    events = store.get_events_by_execution_ids([int(e.id or 0) for e in executions])
    return {
        "types": {
            **kind_types(store.get_artifact_types(), 1),
            **kind_types(store.get_execution_types(), 2),
            **kind_types(store.get_context_types(), 3),
        },
        "artifacts": {a_id[a.id]: artifact(a) for a in artifacts},
        "executions": {e_id[e.id]: execution(e) for e in executions},
        "contexts": {c_id[c.id]: context(c) for c in contexts},
        "events": {
            (
                a_id[ev.artifact_id],
                e_id[ev.execution_id],
                int(ev.type),
                tuple(ev.path),
                ev.milliseconds_since_epoch,
            )
            for ev in events
        },
        "attributions": {
            (a_id[a.id], c_id[c.id])
            for a in artifacts
            for c in store.get_contexts_by_artifact(int(a.id or 0))
        },
        "associations": {
            (e_id[e.id], c_id[c.id])
            for e in executions
            for c in store.get_contexts_by_execution(int(e.id or 0))
        },
        "parents": {
            (c_id[c.id], c_id[p.id])
            for c in contexts
            for p in store.get_parent_contexts_by_context(int(c.id or 0))
        },
    }


def normalized(view: dict[str, Any]) -> dict[str, Any]:
    """MLMD's view with its unset optional fields as mltrail gives them (version '' is no
    version)."""
    out = dict(view)
    out["types"] = {(k, n, v or ""): rest for (k, n, v), rest in view["types"].items()}
    return out


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[Path, Any, dict[str, int]]]:
    """An MLMD SQLite file with :func:`populate`'s graph, its MLMD store and ids."""
    path = tmp_path / "mlmd.sqlite"
    mlmd = open_mlmd(path)
    ids = populate(mlmd)
    yield path, mlmd, ids


def raw(path: Path, *statements: str) -> None:
    """Change the MLMD file behind ML Metadata's back."""
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


def past(ms: int) -> None:
    """Return once the wall clock has passed ``ms`` (MLMD's times are milliseconds: a change
    made after this is stamped later than one made at ``ms``)."""
    while time.time_ns() // 1_000_000 <= ms:
        pass


# -------------------------------------------------------------------------------------- tests


def test_everything_arrives_with_its_times(
    store: MetadataStore, source: tuple[Path, Any, dict[str, int]]
) -> None:
    path, mlmd, _ = source
    report = import_mlmd(store, path)
    expected = normalized(mlmd_view(mlmd))
    assert mltrail_view(store) == expected
    assert (report.created, report.updated, report.unchanged) == (8, 0, 0)
    assert report.nodes == 8
    assert report.edges == 5 + 3 + 2 + 2
    assert report.types == 6
    # Every row of the MLMD tables but MLMDEnv: 15 types (9 of them MLMD's own), 8 declared
    # properties, 3 base-type links, 8 nodes, 17 property rows, 5 events, 6 path steps,
    # 3 attributions, 2 associations, 2 parent links.
    assert report.rows == 15 + 8 + 3 + 8 + 17 + 5 + 6 + 3 + 2 + 2
    assert report.site == source_site(path)
    # MLMD's own types, which no node uses, stay out.
    assert not [t for t in store.get_artifact_types() if t.name.startswith("mlmd.")]


def test_importing_again_adds_nothing(
    store: MetadataStore, source: tuple[Path, Any, dict[str, int]], backing_database: Any
) -> None:
    path, _, _ = source
    import_mlmd(store, path)
    before = dump(backing_database)
    report = import_mlmd(store, path)
    assert (report.created, report.updated, report.edges, report.types) == (0, 0, 0, 0)
    assert report.unchanged == 8
    assert dump(backing_database) == before


@pytest.mark.parametrize("batch_size", [1, 2, 3])
def test_any_batch_size_gives_the_same_store(
    source: tuple[Path, Any, dict[str, int]], batch_size: int
) -> None:
    path, mlmd, _ = source
    with mltrail.connect() as whole, mltrail.connect() as batched:
        import_mlmd(whole, path)
        report = import_mlmd(batched, path, batch_size=batch_size)
        assert report.batches == sum(-(-n // batch_size) for n in (3, 3, 2))
        assert canon(batched) == canon(whole)
        assert mltrail_view(batched) == normalized(mlmd_view(mlmd))


def test_growth_adds_just_what_is_new(
    store: MetadataStore, source: tuple[Path, Any, dict[str, int]]
) -> None:
    path, mlmd, ids = source
    import_mlmd(store, path)
    first = canon(store)
    past(max(n.last_update_time_since_epoch for n in mlmd.get_executions()))
    # The MLMD database grows: a new artifact read by an existing execution, a finished
    # evaluation, one more run membership, and a type with one more property.
    [e1] = mlmd.get_executions_by_id([ids["e1"]])
    e1.last_known_state = pb.Execution.COMPLETE
    e1.custom_properties["accuracy"].double_value = 0.9
    mlmd.put_executions([e1])
    dataset = mlmd.get_artifact_type("Dataset", type_version="v1")
    dataset.properties["rows"] = pb.INT
    mlmd.put_artifact_type(dataset, can_add_fields=True)
    d3 = pb.Artifact(type_id=ids["Dataset"], uri="s3://d/3", name="d3")
    d3.properties["rows"].int_value = 100
    [d3_id] = mlmd.put_artifacts([d3])
    mlmd.put_events([pb.Event(artifact_id=d3_id, execution_id=ids["t1"], type=pb.Event.INPUT)])
    mlmd.put_attributions_and_associations(
        [pb.Attribution(artifact_id=d3_id, context_id=ids["r2"])], []
    )
    report = import_mlmd(store, path)
    assert (report.created, report.updated, report.unchanged) == (1, 2, 6)
    assert (report.edges, report.types) == (2, 1)
    assert mltrail_view(store) == normalized(mlmd_view(mlmd))
    # What did not change in MLMD did not change here.
    now = canon(store)
    changed = {key for key, node in now["nodes"].items() if node != first["nodes"].get(key)}
    assert changed == {
        ("external_id", 2, "exe:e1"),
        ("gid", 2, report.site, ids["t1"]),
        ("gid", 1, report.site, d3_id),
    }
    again = import_mlmd(store, path)
    assert (again.created, again.updated, again.edges) == (0, 0, 0)


def test_a_copy_is_the_same_source_with_its_site(
    store: MetadataStore, source: tuple[Path, Any, dict[str, int]], tmp_path: Path
) -> None:
    path, _, _ = source
    first = import_mlmd(store, path)
    moved = tmp_path / "elsewhere" / "copy.sqlite"
    moved.parent.mkdir()
    shutil.copy(path, moved)
    assert source_site(moved) != first.site
    report = import_mlmd(store, f"sqlite:///{moved}", site=first.site.upper())
    assert (report.created, report.updated, report.edges) == (0, 0, 0)
    with pytest.raises(InvalidArgumentError, match="site 'here' is not a UUID"):
        import_mlmd(store, moved, site="here")


def test_a_conflict_refuses_its_batch_whole(
    store: MetadataStore, source: tuple[Path, Any, dict[str, int]], backing_database: Any
) -> None:
    path, _, _ = source
    # The store holds another model named m1 (no external id in common): MLMD's m1 clashes.
    store.put_artifact_type(mltrail.ArtifactType(name="Model", base_type="MODEL"))
    [mine] = store.put_artifacts([mltrail.Artifact(type="Model", name="m1", uri="here")])
    with pytest.raises(SyncConflictError, match="m1") as raised:
        import_mlmd(store, path, batch_size=2)
    assert [c["kind"] for c in raised.value.conflicts] == ["name"]
    # The contexts' batches and the first artifacts' batch went in; m1's batch did not.
    assert {c.name for c in store.get_contexts()} == {"r1", "r2", "p"}
    assert {a.name for a in store.get_artifacts()} == {"d1", None, "m1"}
    assert [a.uri for a in store.get_artifacts() if a.name == "m1"] == ["here"]
    before = dump(backing_database)
    with pytest.raises(SyncConflictError):
        import_mlmd(store, path, batch_size=2)
    assert dump(backing_database) == before
    assert store.get_artifacts_by_id([mine])[0].uri == "here"


def corrupt_cases() -> list[Any]:
    return [
        pytest.param(
            ("UPDATE MLMDEnv SET schema_version = 9",),
            SchemaVersionError,
            r"has MLMD schema version 9; this import reads schema version 10",
            id="older-schema",
        ),
        pytest.param(
            ("UPDATE MLMDEnv SET schema_version = 11",),
            SchemaVersionError,
            r"schema version 11; .*newer than 1\.17",
            id="newer-schema",
        ),
        pytest.param(
            ("DROP TABLE EventPath",),
            FailedPreconditionError,
            r"table\(s\) EventPath are missing",
            id="missing-table",
        ),
        pytest.param(
            ("DROP TABLE MLMDEnv",),
            SchemaVersionError,
            r"no MLMDEnv table: .*schema version 0",
            id="no-version",
        ),
        pytest.param(
            (
                "INSERT INTO Event (id, artifact_id, execution_id, type, "
                "milliseconds_since_epoch) VALUES (77, 999, 1, 3, 0)",
            ),
            InvalidArgumentError,
            r"Event 77 \(artifact 999, execution 1, type 3\) names an artifact or execution "
            "that does not exist",
            id="dangling-event",
        ),
        pytest.param(
            ("UPDATE TypeProperty SET data_type = 9 WHERE name = 'day'",),
            InvalidArgumentError,
            r"type 'Dataset' \(Type id 10\) declares property 'day' with an unknown value "
            r"type 9",
            id="unknown-property-type",
        ),
        pytest.param(
            (
                "INSERT INTO ArtifactProperty (artifact_id, name, is_custom_property, "
                "int_value) VALUES (1, 'bogus', 0, 1)",
            ),
            InvalidArgumentError,
            r"property 'bogus' of Artifact 1 is not declared by the artifact's type",
            id="undeclared-property",
        ),
        pytest.param(
            (
                "UPDATE ArtifactProperty SET int_value = NULL, string_value = 'x' "
                "WHERE name = 'day' AND is_custom_property = 0",
            ),
            InvalidArgumentError,
            r"property 'day' of Artifact 1 holds a value that is not of its declared type INT",
            id="value-of-another-type",
        ),
        pytest.param(
            ("UPDATE ArtifactProperty SET bool_value = NULL WHERE name = 'b'",),
            InvalidArgumentError,
            r"custom property 'b' of Artifact 2 has no value",
            id="no-value",
        ),
        pytest.param(
            ("UPDATE ArtifactProperty SET string_value = 'mlmd-struct::%%%' WHERE name = 'st'",),
            InvalidArgumentError,
            r"custom property 'st' of Artifact 2 holds a struct value that does not decode",
            id="bad-struct",
        ),
        pytest.param(
            ("INSERT INTO Attribution (context_id, artifact_id) VALUES (42, 1)",),
            InvalidArgumentError,
            r"Attribution \d+ \(context 42, artifact 1\) names a node that does not exist",
            id="dangling-attribution",
        ),
        pytest.param(
            ("UPDATE Execution SET type_id = 10 WHERE id = 1",),
            InvalidArgumentError,
            r"Execution 1 has type_id 10, which is no execution type",
            id="node-of-a-type-of-another-kind",
        ),
        pytest.param(
            ("UPDATE Artifact SET state = 17 WHERE id = 1",),
            InvalidArgumentError,
            r"Artifact 1 has an unknown state 17",
            id="unknown-state",
        ),
    ]


@pytest.mark.parametrize(("statements", "error", "message"), corrupt_cases())
def test_a_malformed_database_is_refused_by_name(
    source: tuple[Path, Any, dict[str, int]],
    statements: tuple[str, ...],
    error: type[Exception],
    message: str,
) -> None:
    path, _, _ = source
    with mltrail.connect() as store:
        store.put_context_type(mltrail.ContextType(name="mine"))
        before = dump(store.database)
        raw(path, *statements)
        with pytest.raises(error, match=message):
            import_mlmd(store, path)
        assert dump(store.database) == before


def test_what_is_not_an_mlmd_database(tmp_path: Path) -> None:
    with mltrail.connect() as store:
        with pytest.raises(NotFoundError, match=r"no MLMD database at .*nowhere\.sqlite"):
            import_mlmd(store, tmp_path / "nowhere.sqlite")
        text = tmp_path / "notes.txt"
        text.write_text("hello " * 200)
        with pytest.raises(FailedPreconditionError, match="not a SQLite file at all"):
            import_mlmd(store, text)
        other = tmp_path / "other.db"
        mltrail.connect(other).close()
        with pytest.raises(FailedPreconditionError, match="not an ML Metadata database"):
            import_mlmd(store, other)
        with pytest.raises(InvalidArgumentError, match="postgresql:// is not a database"):
            import_mlmd(store, "postgresql://u@h/db")
        with pytest.raises(InvalidArgumentError, match="names no database"):
            import_mlmd(store, "mysql://root@127.0.0.1:3306")
        with pytest.raises(InvalidArgumentError, match="batch_size must be a positive"):
            import_mlmd(store, other, batch_size=0)
        with pytest.raises(InvalidArgumentError, match="import into a local store and push"):
            import_mlmd(object(), other)


def test_the_source_is_only_read(source: tuple[Path, Any, dict[str, int]]) -> None:
    path, _, _ = source
    before = path.read_bytes()
    with mltrail.connect() as store:
        import_mlmd(store, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["mlmd.sqlite"]


@pytest.fixture
def mysql_source(servers: dict[str, Server]) -> tuple[str, Any]:
    """An MLMD database on MariaDB (a fresh database of the test session), with
    :func:`populate`'s graph; its URL and MLMD store."""
    server = servers["mysql"]
    need(server)
    url = make_url(server.new_database("mlmd"))
    config = pb.ConnectionConfig()
    config.mysql.host = url.host or "127.0.0.1"
    config.mysql.port = url.port or 3306
    config.mysql.database = url.database or ""
    config.mysql.user = url.username or "root"
    if url.password:
        config.mysql.password = url.password
    mlmd = metadata_store.MetadataStore(config)
    populate(mlmd, big=2**31 - 1)
    return url.set(drivername="mysql").render_as_string(hide_password=False), mlmd


def test_an_mlmd_database_on_mariadb(mysql_source: tuple[str, Any]) -> None:
    url, mlmd = mysql_source
    with mltrail.connect() as store:
        report = import_mlmd(store, url)
        assert mltrail_view(store) == normalized(mlmd_view(mlmd))
        parsed = make_url(url)
        assert report.site == source_site(
            f"mysql://someone@{parsed.host}:{parsed.port or 3306}/{parsed.database}"
        )
        again = import_mlmd(store, url)
        assert (again.created, again.updated, again.edges) == (0, 0, 0)


def test_the_command(source: tuple[Path, Any, dict[str, int]], project: Path) -> None:
    path, _, _ = source
    mltrail.connect(project / "store.db").close()
    shown = ok("import", "mlmd", str(path), "--store", "store.db").stdout
    assert shown == (
        f"MLMD SQLite file {path} -> SQLite file store.db: 69 MLMD row(s), 8 node(s) in 3 "
        "batch(es); 8 created, 0 updated, 0 unchanged, 12 edge(s) added, 6 type(s) added or "
        "extended\n"
    )
    again = ok("import", "mlmd", f"sqlite:///{path}", "--store", "store.db", "--batch-size", "1")
    assert "8 node(s) in 8 batch(es); 0 created, 0 updated, 8 unchanged, 0 edge(s)" in (
        again.stdout
    )
    assert "no MLMD database at" in failed(
        "import", "mlmd", "missing.sqlite", "--store", "store.db"
    )
    assert "is not a UUID" in failed(
        "import", "mlmd", str(path), "--site", "x", "--store", "store.db"
    )
