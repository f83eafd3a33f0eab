"""CMF's JSON export (``cmf metadata export``, ``CmfQuery.dumptojson``) brought into a store.

The export nests ``{"Pipeline": [pipeline]}``, each pipeline with ``stages``, each stage with
``executions``, each execution with ``events`` (``type``: MLMD's event type number, and the
``artifact``). It maps onto what :class:`~mltrail.Tracker` records:

* a pipeline is a ``Pipeline`` context, a stage a ``Stage`` context (``"<pipeline>/<stage>"``,
  with ``pipeline`` and ``stage`` properties) that is its child; custom properties are kept;
* an execution keeps its type and name; its first ``Execution_uuid`` is its external id (so a
  run is the same everywhere), all of them are in ``cmf.Execution_uuid``; ``Execution`` is its
  ``command`` (and ``argv``), ``Git_Repo`` its ``git_remote``, ``Git_Start_Commit`` its
  ``git_commit`` and ``code_version``, its create time its ``start_time``; custom properties are
  its parameters, typed as exported; the state is UNKNOWN (CMF records none);
* an artifact's ``uri`` (DVC's md5, with ``.dir`` for directories) makes its external id
  ``md5:<uri>``, which is also what tracking with ``hash_algorithm="md5"`` gives the same bytes;
  artifacts CMF identifies by a uuid (metrics, validation outputs) get ``cmf:<uuid>``. The name
  is kept; the path (the name before ``:<uri>``) is its ``path``; CMF's type names become
  mltrail's (``Step_Metrics`` → ``StepMetrics``, ``Dataslice`` → ``DataSlice``,
  ``Validation_output`` → ``ValidationOutput``), ``model_framework`` → ``framework``; the
  comma-separated ``url`` becomes a list in the custom property ``url``;
* what has no place in mltrail's model is kept as custom properties named ``cmf.<name>``
  (``cmf.git_repo``, ``cmf.Git_End_Commit``), and so are each node's exported times
  (``cmf.create_time_since_epoch``, ``cmf.last_update_time_since_epoch``): the store stamps its
  own.

The whole document is checked before anything is written; a malformed record is an
InvalidArgumentError naming it (``Pipeline[0].stages[2].executions[1]: no 'name'``). Then each
pipeline is written in one transaction: its contexts and their parent links, and each stage's
executions, artifacts, events and memberships. (A server store, ``http://...``, has no
transactions that span calls: there those parts are one transaction each.) Everything is found
again by its identity, so importing the same export twice adds nothing, and importing it again
after a failure completes it. As in CMF, an execution already there keeps its properties (the first
writer wins); new events of it are added, and new custom properties of artifacts are merged.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mltrail.compat import _cmf_names as N
from mltrail.compat._stores import calls_together
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.model import (
    Artifact,
    ArtifactType,
    Context,
    Event,
    EventType,
    Execution,
    ExecutionState,
    ParentContext,
    PropertyType,
    PropertyValue,
)
from mltrail.store import MetadataStore
from mltrail.tracking import _schema as S

_HEX = re.compile(r"[0-9a-f]+")
#: CMF's execution properties that mltrail derives from the contexts, or that are local ids.
_EXECUTION_DROPPED = {"Context_Type", "Context_ID", "Execution_type_name", "Pipeline_Type",
                      "Pipeline_id"}  # fmt: skip
_FILE_TYPES = (S.DATASET, S.MODEL, S.LABEL)
_TYPES = {t.name: t for t in S.ARTIFACT_TYPES.values()}
_TYPES[N.VALIDATION_OUTPUT] = ArtifactType(
    name=N.VALIDATION_OUTPUT, properties={"version": PropertyType.STRING}
)
_FITS = {
    PropertyType.INT: (int,),
    PropertyType.DOUBLE: (int, float),
    PropertyType.STRING: (str,),
    PropertyType.BOOLEAN: (bool,),
    PropertyType.STRUCT: (dict, list),
}


@dataclass
class ImportReport:
    """What :func:`import_json` did: how many of each kind the export held, and how many of
    them were new to the store."""

    pipelines: int = 0
    stages: int = 0
    executions: int = 0
    new_executions: int = 0
    artifacts: int = 0
    new_artifacts: int = 0
    new_events: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)

    def summary(self) -> str:
        return (
            f"{self.pipelines} pipelines, {self.stages} stages: {self.executions} executions "
            f"({self.new_executions} new), {self.artifacts} artifacts ({self.new_artifacts} new), "
            f"{self.new_events} new events"
        )


@dataclass
class _Artifact:
    key: str  # the external id
    node: Artifact
    label: str


@dataclass
class _Execution:
    where: str
    node: Execution
    uuids: list[str]
    events: list[tuple[EventType, str]] = field(default_factory=list)  # (type, artifact key)


@dataclass
class _Stage:
    context: Context
    executions: list[_Execution] = field(default_factory=list)


@dataclass
class _Pipeline:
    context: Context
    stages: list[_Stage] = field(default_factory=list)
    artifacts: dict[str, _Artifact] = field(default_factory=dict)


# ------------------------------------------------------------------------------ reading


def _load(source: Any) -> Any:
    if isinstance(source, Mapping):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"no CMF export at {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidArgumentError(f"cannot read {path}: {exc}") from None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise InvalidArgumentError(
                f"{path} is not JSON ({exc}); give the file `cmf metadata export` wrote"
            ) from None
    raise InvalidArgumentError(
        f"give a CMF export as a file path or a dict, got {type(source).__name__}"
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{where}: expected a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _list(record: dict[str, Any], key: str, where: str) -> list[Any]:
    value = record.get(key, [])
    if not isinstance(value, list):
        raise InvalidArgumentError(f"{where}: '{key}' must be a list, got {_kind(value)}")
    return value


def _text(record: dict[str, Any], key: str, where: str, *, empty: bool = False) -> str:
    if key not in record:
        raise InvalidArgumentError(f"{where}: no '{key}'")
    value = record[key]
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise InvalidArgumentError(f"{where}: '{key}' must be a non-empty string, got {value!r}")
    return value


def _values(record: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """A property map: None values are left out (CMF exports unset values as null)."""
    value = record.get(key) or {}
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{where}: '{key}' must be an object, got {_kind(value)}")
    out = {}
    for name, item in value.items():
        if item is None or name.startswith("mltrail."):
            continue
        if isinstance(item, float) and item != item:  # NaN: no value
            continue
        out[name] = item
    return out


def _times(record: dict[str, Any]) -> dict[str, int]:
    out = {}
    for key, target in (
        ("create_time_since_epoch", N.CREATED),
        ("last_update_time_since_epoch", N.UPDATED),
    ):
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            out[target] = value
    return out


def _identity(uri: str) -> str:
    base = uri[: -len(".dir")] if uri.endswith(".dir") else uri
    if _HEX.fullmatch(base):
        if len(base) == 32:
            return f"md5:{uri}"
        if len(base) == 64:
            return f"sha256:{uri}"
    return N.CMF_IDENTITY + uri


def _fits(value: Any, kind: PropertyType) -> bool:
    if isinstance(value, bool) and kind != PropertyType.BOOLEAN:
        return False
    return isinstance(value, _FITS[kind])


def _urls(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    return list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))


def _artifact(record: Any, where: str) -> _Artifact:
    record = _object(record, where)
    cmf_type = _text(record, "type", where)
    uri = _text(record, "uri", where)
    name = record.get("name") or uri
    if not isinstance(name, str):
        raise InvalidArgumentError(f"{where}: 'name' must be a string, got {name!r}")
    type_name = N.FROM_CMF_TYPE.get(cmf_type, cmf_type)
    key = _identity(uri)
    cut = name.rfind(":" + uri)
    label = name[:cut] if cut > 0 else name
    declared = _TYPES[type_name].properties if type_name in _TYPES else {}
    props: dict[str, Any] = {}
    custom: dict[str, Any] = {**_values(record, "custom_properties", where), **_times(record)}
    if type_name in _FILE_TYPES:
        props.update(path=label, paths=[label])
        algorithm = key.partition(":")[0]
        if algorithm in ("md5", "sha256"):
            props.update(algorithm=algorithm, kind="directory" if uri.endswith(".dir") else "file")
    elif type_name == S.METRICS:
        props["metrics_name"] = label
    elif type_name in (S.STEP_METRICS, S.DATASLICE):
        props["metrics_name" if type_name == S.STEP_METRICS else "slice_name"] = label.rsplit(
            "/", 1
        )[-1]
    for prop, value in _values(record, "properties", where).items():
        ours = {"model_framework": "framework"}.get(prop, prop)
        if prop == N.URL:
            if _urls(value):
                custom[N.URL] = _urls(value)
        elif prop == "Commit" and value == uri:
            continue  # the uri itself
        elif prop == "metrics_name" and type_name == S.METRICS:
            continue  # CMF's full name, kept as the name
        elif ours in declared and ours not in props and _fits(value, declared[ours]):
            props[ours] = value
        elif value != "":
            custom[N.PREFIX + prop] = value
    node = Artifact(
        type=type_name,
        name=name,
        uri=label if type_name in _FILE_TYPES else None,
        external_id=key,
        properties=props,
        custom_properties=custom,
    )
    return _Artifact(key, node, label)


def _argv(command: str) -> list[str] | None:
    """CMF's ``Execution`` is ``str(sys.argv)``: the list back when it is one."""
    try:
        value = ast.literal_eval(command)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _execution(record: Any, where: str, pipeline: str, stage: str) -> _Execution:
    record = _object(record, where)
    type_name = _text(record, "type", where)
    name = _text(record, "name", where, empty=True)
    given = _values(record, "properties", where)
    uuids = [u.strip() for u in str(given.get("Execution_uuid", "")).split(",") if u.strip()]
    if not uuids:
        raise InvalidArgumentError(
            f"{where}: no 'Execution_uuid' property (CMF's identity of an execution); the export "
            "comes from a CMF too old to import: export it again with a newer CMF"
        )
    props: dict[str, Any] = {"pipeline": pipeline, "stage": stage}
    custom: dict[str, Any] = {**_values(record, "custom_properties", where), **_times(record)}
    custom[N.EXECUTION_UUID] = ",".join(uuids)
    command = given.get("Execution")
    if isinstance(command, str) and command:
        props["command"] = command
        argv = _argv(command)
        if argv is not None:
            props["argv"] = argv
    for prop, ours in (("Git_Repo", "git_remote"), ("Git_Start_Commit", "git_commit")):
        value = given.get(prop)
        if isinstance(value, str) and value:
            props[ours] = value
    if "git_commit" in props:
        props["code_version"] = props["git_commit"]
    for prop, value in given.items():
        if prop in _EXECUTION_DROPPED or prop in ("Execution", "Execution_uuid", "Git_Repo",
                                                  "Git_Start_Commit"):  # fmt: skip
            continue
        declared = S.EXECUTION_PROPERTIES.get(prop)
        if declared is not None and prop not in props and _fits(value, declared):
            props[prop] = value
        elif value != "":
            custom[N.PREFIX + prop] = value
    created = custom.get(N.CREATED)
    if "start_time" not in props and isinstance(created, int):
        props["start_time"] = created
    node = Execution(
        type=type_name,
        name=name or None,
        external_id=uuids[0],
        last_known_state=ExecutionState.UNKNOWN,
        properties=props,
        custom_properties=custom,
    )
    return _Execution(where, node, uuids)


def _event_type(value: Any, where: str) -> EventType:
    if isinstance(value, int) and not isinstance(value, bool):
        if value in EventType._value2member_map_ and value != 0:
            return EventType(value)
    elif isinstance(value, str) and value.upper() in set(EventType.__members__) - {"UNKNOWN"}:
        return EventType[value.upper()]
    raise InvalidArgumentError(
        f"{where}: 'type' must be an event type (3 INPUT, 4 OUTPUT... as MLMD numbers them), "
        f"got {value!r}"
    )


def _context(record: dict[str, Any], where: str, type_name: str, name: str) -> Context:
    custom = {**_values(record, "custom_properties", where), **_times(record)}
    props: dict[str, PropertyValue] = {}
    if type_name == S.STAGE:
        pipeline, _, stage = name.partition("/")
        props.update(pipeline=pipeline, stage=stage)
    return Context(type=type_name, name=name, properties=props, custom_properties=custom)


def read_export(source: Any) -> list[_Pipeline]:
    """The checked plan of an export (nothing is written)."""
    document = _load(source)
    if not isinstance(document, dict) or not isinstance(document.get("Pipeline"), list):
        raise InvalidArgumentError(
            "the document has no 'Pipeline' list: give the JSON `cmf metadata export` writes"
        )
    plans = []
    for p, record in enumerate(document["Pipeline"]):
        where = f"Pipeline[{p}]"
        record = _object(record, where)
        name = _text(record, "name", where)
        if "/" in name:
            raise InvalidArgumentError(f"{where}: a pipeline name cannot hold '/', got {name!r}")
        plan = _Pipeline(_context(record, where, S.PIPELINE, name))
        seen_stages: dict[str, _Stage] = {}
        for s, stage_record in enumerate(_list(record, "stages", where)):
            at = f"{where}.stages[{s}]"
            stage_record = _object(stage_record, at)
            full = _text(stage_record, "name", at)
            short = full[len(name) + 1 :] if full.startswith(name + "/") else full
            if not short.strip():
                raise InvalidArgumentError(f"{at}: the stage has no name after {name + '/'!r}")
            stage = seen_stages.get(short)
            if stage is None:
                context = _context(stage_record, at, S.STAGE, f"{name}/{short}")
                stage = seen_stages[short] = _Stage(context)
                plan.stages.append(stage)
            for e, execution_record in enumerate(_list(stage_record, "executions", at)):
                here = f"{at}.executions[{e}]"
                execution = _execution(execution_record, here, name, short)
                for v, event_record in enumerate(_list(execution_record, "events", here)):
                    spot = f"{here}.events[{v}]"
                    event_record = _object(event_record, spot)
                    kind = _event_type(event_record.get("type"), spot)
                    if "artifact" not in event_record:
                        raise InvalidArgumentError(f"{spot}: no 'artifact'")
                    artifact = _artifact(event_record["artifact"], f"{spot}.artifact")
                    known = plan.artifacts.get(artifact.key)
                    if known is None:
                        plan.artifacts[artifact.key] = artifact
                    else:  # the same artifact under another event: later values win
                        known.node.custom_properties.update(artifact.node.custom_properties)
                    if (kind, artifact.key) not in execution.events:
                        execution.events.append((kind, artifact.key))
                stage.executions.append(execution)
        plans.append(plan)
    return plans


# ------------------------------------------------------------------------------ writing


def import_json(store: MetadataStore, source: Any) -> ImportReport:
    """Bring a CMF JSON export (a file path, or the parsed document) into ``store``; see the
    module's text for the mapping, the transactions and what a second import does."""
    plans = read_export(source)
    report = ImportReport(pipelines=len(plans))
    if not plans:
        return report
    types = S.TypeRegistry(store)
    for kind in (S.PIPELINE, S.STAGE):
        types.context(kind)
    artifact_types = {a.node.type for plan in plans for a in plan.artifacts.values()}
    for type_name in sorted(t for t in artifact_types if t):
        if type_name in S.ARTIFACT_TYPES:
            types.artifact(type_name)
        else:
            known = _TYPES.get(type_name, ArtifactType(name=type_name))
            store.put_artifact_type(known, can_add_fields=True, can_omit_fields=True)
    execution_types = {x.node.type for p in plans for s in p.stages for x in s.executions}
    for type_name in sorted(t for t in execution_types if t):
        types.execution(type_name)
    for plan in plans:
        with calls_together(store):
            _write_pipeline(store, plan, report)
    return report


def _merged_context(stored: Context, wanted: Context) -> Context | None:
    changes = {
        k: v for k, v in wanted.custom_properties.items() if k not in stored.custom_properties
    }
    if not changes:
        return None
    merged = copy.deepcopy(stored)
    merged.custom_properties.update(changes)
    return merged


def _write_contexts(store: MetadataStore, plan: _Pipeline) -> dict[str, int]:
    """Pipeline and stage contexts (one transaction), then their parent links (one)."""
    wanted = [plan.context, *(s.context for s in plan.stages)]
    found: dict[str, Context] = {}
    stored_pipeline = store.get_context_by_type_and_name(S.PIPELINE, str(plan.context.name))
    if stored_pipeline is not None:
        found[str(stored_pipeline.name)] = stored_pipeline
    names = {str(s.context.name) for s in plan.stages}
    if names:
        listed = ", ".join(_quoted(n) for n in sorted(names))
        for context in store.get_contexts_by_type(S.STAGE, filter_query=f"name IN ({listed})"):
            found[str(context.name)] = context
    to_put: list[Context] = []
    for context in wanted:
        stored = found.get(str(context.name))
        if stored is None:
            to_put.append(context)
        else:
            merged = _merged_context(stored, context)
            if merged is not None:
                to_put.append(merged)
    if to_put:
        for context, context_id in zip(to_put, store.put_contexts(to_put)):
            context.id = context_id
            found[str(context.name)] = context
    ids = {name: int(c.id or 0) for name, c in found.items()}
    pipeline_id = ids[str(plan.context.name)]
    stage_ids = [ids[str(s.context.name)] for s in plan.stages]
    if stage_ids:
        parents = store.get_parent_contexts_by_contexts(stage_ids)
        links = [
            ParentContext(child_id=i, parent_id=pipeline_id)
            for i in stage_ids
            if pipeline_id not in {p.id for p in parents.get(i, [])}
        ]
        if links:
            store.put_parent_contexts(links)
    return ids


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _stored_executions(store: MetadataStore, plan: _Pipeline) -> dict[str, Execution]:
    """Executions already in the store, by the uuid of the export that names them: by
    external id, and reusable (named) executions by type and name too."""
    executions = [x for s in plan.stages for x in s.executions]
    out: dict[str, Execution] = {}
    uuids = sorted({u for x in executions for u in x.uuids})
    for stored in store.get_executions_by_external_ids(uuids) if uuids else []:
        out[str(stored.external_id)] = stored
    names = sorted({str(x.node.name) for x in executions if x.node.name})
    if names:
        listed = ", ".join(_quoted(n) for n in names)
        by_name = {
            (e.type, e.name): e for e in store.get_executions(filter_query=f"name IN ({listed})")
        }
        for x in executions:
            named = by_name.get((x.node.type, x.node.name))
            if named is not None and not any(u in out for u in x.uuids):
                out[x.uuids[0]] = named
    return out


def _write_pipeline(store: MetadataStore, plan: _Pipeline, report: ImportReport) -> None:
    ids = _write_contexts(store, plan)
    pipeline_name = str(plan.context.name)
    report.stages += len(plan.stages)
    report.artifacts += len(plan.artifacts)

    stored_artifacts = {
        str(a.external_id): a for a in store.get_artifacts_by_external_ids(list(plan.artifacts))
    } if plan.artifacts else {}  # fmt: skip
    taken = _taken_names(store, plan, stored_artifacts)
    stored_executions = _stored_executions(store, plan)
    # Which artifacts the pipeline and each stage hold already: one statement (the pipeline's
    # context DAG, its stages' members included), not one read per stage.
    members: dict[int, set[int]] = {}
    for link in store.get_context_dag(ids[pipeline_name]).attributions:
        members.setdefault(link.context_id, set()).add(link.artifact_id)
    attributed: set[int | None] = set(members.get(ids[pipeline_name], set()))
    known_events: set[tuple[int, int, EventType]] = set()
    if stored_executions:
        known_events = {
            (int(e.execution_id or 0), int(e.artifact_id or 0), e.type or EventType.UNKNOWN)
            for e in store.get_events_by_execution_ids(
                sorted({int(e.id or 0) for e in stored_executions.values()})
            )
        }
    current: dict[str, Artifact] = {}  # artifacts as stored now, by key
    for key, artifact in plan.artifacts.items():
        stored = stored_artifacts.get(key)
        if stored is None:
            if (artifact.node.type, artifact.node.name) in taken:
                artifact.node.name = None  # another artifact has the name: keep it there
            else:
                taken.add((artifact.node.type, artifact.node.name))
            continue
        merged = _merged_artifact(stored, artifact.node)
        current[key] = merged if merged is not None else stored
        if merged is not None:
            attributed.discard(stored.id)  # to be written again
    for stage in plan.stages:
        stage_id = ids[str(stage.context.name)]
        in_stage = members.get(stage_id, set())
        _write_stage(
            store,
            plan,
            stage,
            current,
            stored_executions,
            known_events,
            attributed & in_stage,
            report,
        )


def _taken_names(
    store: MetadataStore, plan: _Pipeline, stored: dict[str, Artifact]
) -> set[tuple[str | None, str | None]]:
    names = sorted({str(a.node.name) for k, a in plan.artifacts.items() if k not in stored})
    if not names:
        return set()
    listed = ", ".join(_quoted(n) for n in names)
    return {(a.type, a.name) for a in store.get_artifacts(filter_query=f"name IN ({listed})")}


def _merged_artifact(stored: Artifact, new: Artifact) -> Artifact | None:
    """``stored`` with the export's custom properties (CMF's rule: they overwrite; URLs are
    united; the first times are kept), or None when nothing changes."""
    merged = copy.deepcopy(stored)
    changed = False
    for key, value in new.custom_properties.items():
        old = merged.custom_properties.get(key)
        if key == N.URL:
            union = _urls(old or []) + [u for u in _urls(value) if u not in _urls(old or [])]
            if union != old:
                merged.custom_properties[key], changed = union, True
        elif key in (N.CREATED, N.UPDATED):
            if old is None:
                merged.custom_properties[key], changed = value, True
        elif old != value or type(old) is not type(value):
            merged.custom_properties[key], changed = value, True
    return merged if changed else None


def _write_stage(
    store: MetadataStore,
    plan: _Pipeline,
    stage: _Stage,
    current: dict[str, Artifact],
    stored_executions: dict[str, Execution],
    known_events: set[tuple[int, int, EventType]],
    attributed: set[int | None],
    report: ImportReport,
) -> None:
    """One stage in one transaction: new executions (and reused ones with new uuids), the
    artifacts they touch that are new, changed or not yet in the stage, and new events."""
    executions: list[Execution] = []
    execution_index: dict[int, int] = {}  # position in stage.executions -> in executions
    execution_ids: dict[int, int] = {}  # position -> stored id
    for position, planned in enumerate(stage.executions):
        report.executions += 1
        stored = next((stored_executions[u] for u in planned.uuids if u in stored_executions),
                      None)  # fmt: skip
        if stored is None:
            report.new_executions += 1
            execution_index[position] = len(executions)
            executions.append(planned.node)
            for u in planned.uuids:
                stored_executions[u] = planned.node  # a repeat of it in the export is the same
            continue
        if stored.id is None:  # created earlier in this import, in another stage
            continue
        execution_ids[position] = stored.id
        kept = str(stored.custom_properties.get(N.EXECUTION_UUID) or stored.external_id or "")
        uuids = [u for u in kept.split(",") if u]
        more = [u for u in planned.uuids if u not in uuids]
        if more:
            updated = copy.deepcopy(stored)
            updated.custom_properties[N.EXECUTION_UUID] = ",".join(uuids + more)
            execution_index[position] = len(executions)
            executions.append(updated)

    artifacts: list[Artifact] = []
    artifact_index: dict[str, int] = {}

    def artifact_slot(key: str) -> tuple[int | None, int | None]:
        """(index in this batch, stored id) of an artifact, adding it to the batch when it is
        new, changed or not in this stage yet."""
        if key in artifact_index:
            return artifact_index[key], None
        stored = current.get(key)
        if stored is not None and stored.id in attributed:
            return None, stored.id
        artifact_index[key] = len(artifacts)
        artifacts.append(stored if stored is not None else plan.artifacts[key].node)
        return artifact_index[key], None

    edges: list[tuple[int | None, int | None, Event]] = []
    for position, planned in enumerate(stage.executions):
        if position not in execution_index and position not in execution_ids:
            continue
        for kind, key in planned.events:
            stored_id = execution_ids.get(position)
            stored_artifact = current.get(key)
            if (
                stored_id is not None
                and stored_artifact is not None
                and (stored_id, int(stored_artifact.id or 0), kind) in known_events
            ):
                continue
            a_index, a_id = artifact_slot(key)
            edges.append(
                (
                    execution_index.get(position),
                    a_index,
                    Event(
                        execution_id=stored_id if position not in execution_index else None,
                        artifact_id=a_id,
                        type=kind,
                        path=[plan.artifacts[key].label],
                    ),
                )
            )
    if not executions and not artifacts and not edges:
        return
    contexts = [
        Context(type=S.PIPELINE, name=plan.context.name),
        Context(type=S.STAGE, name=stage.context.name),
    ]
    new_keys = [k for k in artifact_index if k not in current]
    execution_ids_out, artifact_ids, _ = store.put_lineage_subgraph(
        executions,
        artifacts,
        contexts,
        edges,
        reuse_context_if_already_exist=True,
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    for execution, new_id in zip(executions, execution_ids_out):
        execution.id = new_id
    for key, position in artifact_index.items():
        node = artifacts[position]
        node.id = artifact_ids[position]
        current[key] = node
        attributed.add(node.id)
    for e_index, a_index, event in edges:
        e_id = execution_ids_out[e_index] if e_index is not None else event.execution_id
        a_id = artifact_ids[a_index] if a_index is not None else event.artifact_id
        known_events.add((int(e_id or 0), int(a_id or 0), event.type or EventType.UNKNOWN))
    report.new_artifacts += len(new_keys)
    report.new_events += len(edges)
