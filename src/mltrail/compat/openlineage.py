"""OpenLineage run events recorded in a store (docs/openlineage.md).

An OpenLineage producer (Airflow, Spark, dbt, the ``openlineage-python`` client...) reports each
run of a job as events (START, RUNNING, COMPLETE, FAIL, ABORT, OTHER), each naming the run, its
job and the datasets it read and wrote, with facets: named JSON documents. :func:`ingest` maps
them onto the store's model:

* a job (namespace + name) is an execution type named ``NAMESPACE/NAME`` and a context of type
  ``openlineage.Job`` that holds every run of it;
* a run is an execution of its job's type (external id ``openlineage:run:RUN_ID``), in its
  job's context and in a context of its own (type ``openlineage.Run``, named by the run id);
  the state follows the events (START and RUNNING: RUNNING, COMPLETE, FAIL: FAILED, ABORT:
  CANCELED; a run once ended is not made RUNNING again by a late START); a ``parent`` run
  facet makes the parent run's context a parent of the run's context;
* a dataset is an artifact of type ``openlineage.Dataset`` known by namespace + name (external
  id ``openlineage:dataset:NAMESPACE/NAME``, uri ``NAMESPACE/NAME``); an input of a run is an
  INPUT event, an output an OUTPUT event, and the datasets go into the run's contexts;
* facets become custom properties: run facets on the execution, job facets on the job's
  context, dataset facets (and the input and output facets) on the artifact, each as
  ``facet.NAME`` (``input_facet.NAME``, ``output_facet.NAME``) holding the facet's JSON; the
  event's ``producer``, times and job are kept (``producer``, ``event_time``, ``start_time``,
  ``end_time``, ``job_namespace``, ``job_name``). Metadata is additive, as the specification
  has it: a later event adds and replaces facets, never removes them.

Every event of a batch is checked before anything is written: a malformed one is refused with
InvalidArgumentError naming it (its position, and its run id when it has one). A batch of one
run (what OpenLineage's HTTP transport sends: one event) is then written in one transaction: the
run, its datasets, events and contexts together (types the first time a process meets them, and
parent links, come before and after). A batch of several runs puts its contexts first and its
memberships after the nodes. Each of these calls changes nothing when it fails; since everything
is found again by its identity, sending a batch again adds nothing that is there, and completes
one that failed halfway.

The other way, :func:`run_events` and :func:`emit` report executions of any store as OpenLineage
run events (through OpenLineage's client: ``pip install 'mltrail[openlineage]'``), to an
OpenLineage server or to a file. Executions recorded from OpenLineage keep their run ids, jobs
and dataset names, so events emitted from them describe the same runs.
"""

from __future__ import annotations

import datetime
import json
import uuid
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.model import (
    INPUT_EVENT_TYPES,
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionState,
    ExecutionType,
    ParentContext,
)

if TYPE_CHECKING:
    from mltrail.store import MetadataStore

DATASET_TYPE = "openlineage.Dataset"
JOB_CONTEXT_TYPE = "openlineage.Job"
RUN_CONTEXT_TYPE = "openlineage.Run"
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER")
STATES = {
    "START": ExecutionState.RUNNING,
    "RUNNING": ExecutionState.RUNNING,
    "COMPLETE": ExecutionState.COMPLETE,
    "FAIL": ExecutionState.FAILED,
    "ABORT": ExecutionState.CANCELED,
}
ENDED = {ExecutionState.COMPLETE, ExecutionState.FAILED, ExecutionState.CANCELED}
#: The most events one :func:`ingest` call takes.
MAX_EVENTS = 10_000


@dataclass
class IngestReport:
    """What a batch of events did: how many events, and the runs and datasets they named, new
    (created by this batch) or already known."""

    events: int = 0
    runs: int = 0
    new_runs: int = 0
    datasets: int = 0
    new_datasets: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


# ------------------------------------------------------------------------------ checking


@dataclass(frozen=True)
class _Dataset:
    namespace: str
    name: str
    facets: dict[str, Any]
    io_facets: dict[str, Any]

    @property
    def key(self) -> str:
        return f"openlineage:dataset:{self.namespace}/{self.name}"


@dataclass(frozen=True)
class _Event:
    where: str
    event_type: str
    event_time: str
    producer: str | None
    run_id: str
    run_facets: dict[str, Any]
    job_namespace: str
    job_name: str
    job_facets: dict[str, Any]
    inputs: tuple[_Dataset, ...]
    outputs: tuple[_Dataset, ...]
    parent: tuple[str, str, str] | None  # run id, job namespace, job name

    @property
    def job(self) -> str:
        return f"{self.job_namespace}/{self.job_name}"


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{where} must be a JSON object, got {_kind(value)}")
    return value


def _text(holder: dict[str, Any], key: str, where: str) -> str:
    value = holder.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{where}.{key} must be a non-empty string, got {_kind(value)}")
    return value


def _run_id(holder: dict[str, Any], where: str) -> str:
    text = _text(holder, "runId", where)
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise InvalidArgumentError(f"{where}.runId must be a UUID, got {text[:60]!r}") from None


def _facets(holder: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = holder.get(key)
    if value is None:
        return {}
    facets = _object(value, f"{where}.{key}")
    for name, facet in facets.items():
        _object(facet, f"{where}.{key}.{name}")
    return facets


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _datasets(event: dict[str, Any], key: str, where: str) -> tuple[_Dataset, ...]:
    value = event.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidArgumentError(f"{where}.{key} must be a list of datasets, got {_kind(value)}")
    found = []
    io_key = "inputFacets" if key == "inputs" else "outputFacets"
    for index, item in enumerate(value):
        at = f"{where}.{key}[{index}]"
        dataset = _object(item, at)
        found.append(
            _Dataset(
                _text(dataset, "namespace", at),
                _text(dataset, "name", at),
                _facets(dataset, "facets", at),
                _facets(dataset, io_key, at),
            )
        )
    return tuple(found)


def check_event(value: Any, position: int) -> _Event:
    """One run event checked (InvalidArgumentError names what is wrong and where)."""
    where = f"event #{position}"
    event = _object(value, where)
    run = _object(event.get("run"), f"{where}.run")
    run_id = _run_id(run, f"{where}.run")
    where = f"event #{position} (run {run_id})"
    kind = event.get("eventType") or "OTHER"
    if kind not in EVENT_TYPES:
        raise InvalidArgumentError(
            f"{where}.eventType must be one of {', '.join(EVENT_TYPES)}, got {str(kind)[:40]!r}"
        )
    job = _object(event.get("job"), f"{where}.job")
    run_facets = _facets(run, "facets", f"{where}.run")
    parent = None
    if "parent" in run_facets:
        facet = run_facets["parent"]
        at = f"{where}.run.facets.parent"
        parent_run = _object(facet.get("run"), f"{at}.run")
        parent_job = _object(facet.get("job"), f"{at}.job")
        parent = (
            _run_id(parent_run, f"{at}.run"),
            _text(parent_job, "namespace", f"{at}.job"),
            _text(parent_job, "name", f"{at}.job"),
        )
    producer = event.get("producer")
    return _Event(
        where=where,
        event_type=str(kind),
        event_time=_text(event, "eventTime", where),
        producer=producer if isinstance(producer, str) else None,
        run_id=run_id,
        run_facets=run_facets,
        job_namespace=_text(job, "namespace", f"{where}.job"),
        job_name=_text(job, "name", f"{where}.job"),
        job_facets=_facets(job, "facets", f"{where}.job"),
        inputs=_datasets(event, "inputs", where),
        outputs=_datasets(event, "outputs", where),
        parent=parent,
    )


# ------------------------------------------------------------------------------ writing


def _json(value: Any) -> Any:
    """A facet as a struct value: JSON objects and lists as they are (numbers, text, booleans
    and nulls inside them), via a JSON round trip."""
    return json.loads(json.dumps(value))


def _job_key(job: str) -> str:
    return f"openlineage:job:{job}"


def _run_key(run_id: str) -> str:
    return f"openlineage:run:{run_id}"


@dataclass
class _Plan:
    """A batch folded by identity: one entry per run, dataset and job, facets merged in event
    order."""

    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str, EventType]] = field(default_factory=set)
    parents: dict[str, tuple[str, str]] = field(default_factory=dict)  # run -> parent run, job


def _fold(events: list[_Event]) -> _Plan:
    plan = _Plan()
    for event in events:
        job = plan.jobs.setdefault(event.job, {"facets": {}})
        job["facets"].update(event.job_facets)
        run = plan.runs.setdefault(
            event.run_id,
            {
                "job": event.job,
                "namespace": event.job_namespace,
                "name": event.job_name,
                "facets": {},
                "times": {},
                "state": None,
            },
        )
        if run["job"] != event.job:
            raise InvalidArgumentError(
                f"{event.where} names job {event.job!r}, an earlier event of the batch "
                f"{run['job']!r}: a run belongs to one job"
            )
        run["facets"].update(event.run_facets)
        run["times"]["event_time"] = event.event_time
        if event.event_type == "START":
            run["times"].setdefault("start_time", event.event_time)
        if event.event_type in ("COMPLETE", "FAIL", "ABORT"):
            run["times"]["end_time"] = event.event_time
        if event.producer is not None:
            run["producer"] = event.producer
        run["state"] = _later_state(run["state"], STATES.get(event.event_type))
        for datasets, kind, prefix in (
            (event.inputs, EventType.INPUT, "input_facet"),
            (event.outputs, EventType.OUTPUT, "output_facet"),
        ):
            for dataset in datasets:
                entry = plan.datasets.setdefault(
                    dataset.key,
                    {"namespace": dataset.namespace, "name": dataset.name, "facets": {}},
                )
                entry["facets"].update({f"facet.{k}": v for k, v in dataset.facets.items()})
                entry["facets"].update({f"{prefix}.{k}": v for k, v in dataset.io_facets.items()})
                plan.edges.add((event.run_id, dataset.key, kind))
        if event.parent is not None:
            parent_run, namespace, name = event.parent
            plan.parents[event.run_id] = (parent_run, f"{namespace}/{name}")
    return plan


#: The types each store is known to hold, so that a stream of events of known jobs puts no
#: type. A type is never removed from a store; a database replaced behind the server's back is
#: reopened (``Projects.reopen``), which makes a new store object, known to hold nothing.
_ensured: weakref.WeakKeyDictionary[MetadataStore, set[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def _ensure_types(store: MetadataStore, jobs: set[str]) -> None:
    wanted = {("artifact", DATASET_TYPE), ("context", JOB_CONTEXT_TYPE)}
    wanted |= {("context", RUN_CONTEXT_TYPE)} | {("execution", job) for job in jobs}
    known = _ensured.setdefault(store, set())
    for kind, name in sorted(wanted - known):
        if kind == "artifact":
            store.put_artifact_type(ArtifactType(name=name))
        elif kind == "context":
            store.put_context_type(ContextType(name=name))
        else:
            store.put_execution_type(ExecutionType(name=name))
        known.add((kind, name))


def _later_state(
    current: ExecutionState | None, reported: ExecutionState | None
) -> ExecutionState | None:
    """A run's state once ``reported`` arrives: ``current`` when nothing is reported (OTHER) or
    when the run has ended and the report says it runs (a START that arrived late)."""
    if reported is None or (current in ENDED and reported not in ENDED):
        return current
    return reported


def _merged(stored: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {**stored, **{k: _json(v) for k, v in new.items()}}


def ingest(store: MetadataStore, events: Sequence[Any]) -> IngestReport:
    """Record OpenLineage run events (JSON objects, as the specification's ``RunEvent``) in
    ``store`` (see the module's text for the mapping and for what a failure leaves)."""
    if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Sequence):
        raise InvalidArgumentError(
            f"events must be a list of run events (JSON objects), got {type(events).__name__}"
        )
    if len(events) > MAX_EVENTS:
        raise InvalidArgumentError(
            f"{len(events):,} events in one batch; send at most {MAX_EVENTS:,} at a time"
        )
    checked = [check_event(value, position) for position, value in enumerate(events)]
    report = IngestReport(events=len(checked))
    if not checked:
        return report
    plan = _fold(checked)
    parent_runs = {run for run, _ in plan.parents.values()}
    # Parent runs named only by a facet get their contexts (and their jobs' contexts) too.
    for _, job in plan.parents.values():
        plan.jobs.setdefault(job, {"facets": {}})

    _ensure_types(store, {run["job"] for run in plan.runs.values()})
    # The reads by identity and the writes in one transaction: nothing comes in between, and
    # one begin and commit instead of five.
    from mltrail.compat._stores import calls_together

    with calls_together(store):
        return _record(store, plan, parent_runs, report)


def _record(
    store: MetadataStore, plan: _Plan, parent_runs: set[str], report: IngestReport
) -> IngestReport:

    # What is there already, found by identity: one read per kind.
    context_keys = [_job_key(j) for j in plan.jobs] + [
        _run_key(r) for r in {*plan.runs, *parent_runs}
    ]
    contexts = {c.external_id: c for c in store.get_contexts_by_external_ids(context_keys)}
    runs = {e.external_id: e for e in store.get_executions_by_external_ids(
        [_run_key(r) for r in plan.runs])}  # fmt: skip
    datasets = {a.external_id: a for a in store.get_artifacts_by_external_ids(list(plan.datasets))}

    # The contexts to create, or to update with new facets. With one run in the batch its
    # job's and its own go into the nodes' transaction (every node of a subgraph joins every
    # context given); the others (more runs, parent runs named by a facet) are put first.
    wanted: dict[str, Context] = {}
    for job, entry in plan.jobs.items():
        job_context = contexts.get(_job_key(job))
        facets = {f"facet.{k}": v for k, v in entry["facets"].items()}
        if job_context is None or facets:
            base = dict(job_context.custom_properties) if job_context is not None else {}
            wanted[_job_key(job)] = Context(
                id=job_context.id if job_context is not None else None,
                type=JOB_CONTEXT_TYPE,
                name=job,
                external_id=_job_key(job),
                custom_properties=_merged(base, facets),
            )
    for run_id in {*plan.runs, *parent_runs}:
        if _run_key(run_id) not in contexts:
            wanted[_run_key(run_id)] = Context(
                type=RUN_CONTEXT_TYPE, name=run_id, external_id=_run_key(run_id)
            )
    in_subgraph: list[Context] = []
    if len(plan.runs) == 1:
        [(only, entry)] = plan.runs.items()
        for key in (_job_key(entry["job"]), _run_key(only)):
            in_subgraph.append(wanted.pop(key) if key in wanted else contexts[key])
    if wanted:
        _note_contexts(contexts, list(wanted.values()), store.put_contexts(list(wanted.values())))

    executions, artifacts = [], []
    for run_id, entry in plan.runs.items():
        stored = runs.get(_run_key(run_id))
        base = dict(stored.custom_properties) if stored is not None else {}
        state = entry["state"]
        if stored is not None:
            state = _later_state(stored.last_known_state, state)
        props = {f"facet.{k}": v for k, v in entry["facets"].items()}
        props.update(entry["times"])
        props.update(job_namespace=entry["namespace"], job_name=entry["name"])
        if "start_time" in base:
            props["start_time"] = base["start_time"]
        if "producer" in entry:
            props["producer"] = entry["producer"]
        executions.append(
            Execution(
                id=stored.id if stored is not None else None,
                type=entry["job"],
                external_id=_run_key(run_id),
                last_known_state=state,
                custom_properties=_merged(base, props),
            )
        )
    for key, entry in plan.datasets.items():
        dataset = datasets.get(key)
        base = dict(dataset.custom_properties) if dataset is not None else {}
        artifacts.append(
            Artifact(
                id=dataset.id if dataset is not None else None,
                type=DATASET_TYPE,
                uri=f"{entry['namespace']}/{entry['name']}",
                external_id=key,
                state=dataset.state if dataset is not None else None,
                custom_properties=_merged(
                    base,
                    {"namespace": entry["namespace"], "name": entry["name"], **entry["facets"]},
                ),
            )
        )
    run_index = {execution.external_id: i for i, execution in enumerate(executions)}
    dataset_index = {artifact.external_id: i for i, artifact in enumerate(artifacts)}
    existing: set[tuple[int, int, EventType]] = set()
    known_ids = [e.id for e in runs.values() if e.id is not None]
    if known_ids:
        existing = {
            (int(ev.execution_id or 0), int(ev.artifact_id or 0), ev.type)
            for ev in store.get_events_by_execution_ids(known_ids)
        }
    edges = []
    for run_id, key, kind in sorted(plan.edges, key=lambda e: (e[0], e[1], int(e[2]))):
        known_run, known_set = runs.get(_run_key(run_id)), datasets.get(key)
        if known_run and known_set and (known_run.id, known_set.id, kind) in existing:
            continue
        edges.append((run_index[_run_key(run_id)], dataset_index[key], Event(type=kind)))
    execution_ids, artifact_ids, context_ids = store.put_lineage_subgraph(
        executions,
        artifacts,
        in_subgraph,
        edges,
        reuse_context_if_already_exist=True,
        reuse_artifact_if_already_exist_by_external_id=True,
    )
    if in_subgraph:
        _note_contexts(contexts, in_subgraph, context_ids)
    else:  # several runs: each into its job's context and its own, with its datasets
        by_run = dict(zip((e.external_id for e in executions), execution_ids))
        by_dataset = dict(zip((a.external_id for a in artifacts), artifact_ids))
        associations: list[Association] = []
        attributions: list[Attribution] = []
        for run_id, entry in plan.runs.items():
            for key in (_job_key(entry["job"]), _run_key(run_id)):
                context_id = _id(contexts, key)
                associations.append(
                    Association(execution_id=by_run[_run_key(run_id)], context_id=context_id)
                )
                attributions.extend(
                    Attribution(artifact_id=by_dataset[dataset], context_id=context_id)
                    for run, dataset, _ in plan.edges
                    if run == run_id
                )
        store.put_attributions_and_associations(attributions, associations)
    _link_parents(store, plan, contexts)

    report.runs = len(plan.runs)
    report.new_runs = sum(1 for r in plan.runs if _run_key(r) not in runs)
    report.datasets = len(plan.datasets)
    report.new_datasets = sum(1 for k in plan.datasets if k not in datasets)
    return report


def _note_contexts(
    contexts: dict[str | None, Context], put: list[Context], ids: Sequence[int]
) -> None:
    """Remember the ids the store gave to contexts just put."""
    for context, context_id in zip(put, ids):
        contexts[context.external_id] = Context(
            id=context_id,
            type=context.type,
            name=context.name,
            external_id=context.external_id,
            custom_properties=context.custom_properties,
        )


def _id(contexts: dict[str | None, Context], key: str) -> int:
    found = contexts[key].id
    assert found is not None
    return found


def _link_parents(store: MetadataStore, plan: _Plan, contexts: dict[str | None, Context]) -> None:
    """A run's context under its parent run's context when a ``parent`` facet names one, and
    that one under its job's (links already there are left as they are)."""

    def context_id(key: str) -> int:
        return _id(contexts, key)

    wanted: set[tuple[int, int]] = set()
    for run_id, (parent_run, parent_job) in plan.parents.items():
        parent = context_id(_run_key(parent_run))
        wanted |= {
            (context_id(_run_key(run_id)), parent),
            (parent, context_id(_job_key(parent_job))),
        }
    if not wanted:
        return
    present = store.get_parent_contexts_by_contexts(sorted({c for c, _ in wanted}))
    links = [
        ParentContext(child_id=child, parent_id=parent)
        for child, parent in sorted(wanted)
        if parent not in {p.id for p in present.get(child, [])}
    ]
    if links:
        store.put_parent_contexts(links)


# ------------------------------------------------------------------------------ emitting

#: The ``producer`` of the events mltrail emits.
PRODUCER = "https://mltrail.dev/openlineage"
_RUN_IDS = uuid.UUID("6f6b7a54-6d6c-7472-6169-6c2d72756e73")  # uuid5 namespace of run ids
_EVENT_TYPES = {
    ExecutionState.COMPLETE: "COMPLETE",
    ExecutionState.CACHED: "COMPLETE",
    ExecutionState.FAILED: "FAIL",
    ExecutionState.CANCELED: "ABORT",
}


def _client_model() -> Any:
    try:
        from openlineage.client import event_v2
    except ImportError:
        raise FailedPreconditionError(
            "emitting OpenLineage events needs OpenLineage's client: "
            "pip install 'mltrail[openlineage]'"
        ) from None
    return event_v2


def _iso(ms: int | None) -> str:
    moment = datetime.datetime.fromtimestamp((ms or 0) / 1000, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_id_of(execution: Execution) -> str:
    """The OpenLineage run id of an execution: the one it was recorded with (an execution made
    from OpenLineage events), else a UUID derived from its id and create time."""
    prefix = "openlineage:run:"
    if execution.external_id and execution.external_id.startswith(prefix):
        return execution.external_id[len(prefix) :]
    seed = f"{execution.id}:{execution.create_time_since_epoch}"
    return str(uuid.uuid5(_RUN_IDS, seed))


def job_of(execution: Execution, namespace: str = "mltrail") -> tuple[str, str]:
    """The OpenLineage job (namespace, name) of an execution: the one it was recorded with,
    else ``namespace`` and the execution's type."""
    custom = execution.custom_properties
    job_namespace, job_name = custom.get("job_namespace"), custom.get("job_name")
    ours = str(execution.external_id or "").startswith("openlineage:run:")
    if ours and isinstance(job_namespace, str) and isinstance(job_name, str):
        return job_namespace, job_name
    return namespace, str(execution.type)


def dataset_of(artifact: Artifact) -> tuple[str, str]:
    """The OpenLineage (namespace, name) of an artifact: the ones it was recorded with, else
    from its uri as OpenLineage's naming has it (``s3://bucket/key``: ``s3://bucket`` and
    ``key``; a path: ``file`` and the path), else ``mltrail`` and ``artifact/ID``."""
    custom = artifact.custom_properties
    if str(artifact.external_id or "").startswith("openlineage:dataset:"):
        namespace, name = custom.get("namespace"), custom.get("name")
        if isinstance(namespace, str) and isinstance(name, str):
            return namespace, name
    uri = artifact.uri or ""
    if not uri:
        return "mltrail", f"artifact/{artifact.id}"
    parts = urlsplit(uri)
    if parts.scheme and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"
    return "file", uri


def run_events(
    store: MetadataStore, execution_ids: Sequence[int], *, namespace: str = "mltrail"
) -> list[Any]:
    """OpenLineage ``RunEvent`` objects (of OpenLineage's client) for these executions: a START
    at each one's create time with its inputs, then, for an execution that ended, a COMPLETE,
    FAIL or ABORT at its last update with its inputs and outputs (an execution of unknown state:
    one OTHER event). The job is ``namespace`` and the execution's type."""
    model = _client_model()
    executions = store.get_executions_by_id(list(execution_ids))
    found = {e.id for e in executions}
    missing = [i for i in execution_ids if i not in found]
    if missing:
        raise NotFoundError(f"no execution with id {missing[0]}; check the ids")
    events = store.get_events_by_execution_ids([e.id for e in executions if e.id is not None])
    artifacts = {
        a.id: a
        for a in store.get_artifacts_by_id(sorted({e.artifact_id for e in events if e.artifact_id}))
    }
    flows: dict[int, dict[str, list[Artifact]]] = {}
    for event in events:
        artifact = artifacts.get(event.artifact_id)
        if artifact is None or event.execution_id is None:
            continue
        side = "inputs" if event.type in INPUT_EVENT_TYPES else "outputs"
        flows.setdefault(event.execution_id, {"inputs": [], "outputs": []})[side].append(artifact)
    out = []
    for execution in executions:
        assert execution.id is not None
        run = model.Run(runId=run_id_of(execution))
        job = model.Job(*job_of(execution, namespace))
        sides = flows.get(execution.id, {"inputs": [], "outputs": []})
        inputs = [model.InputDataset(*dataset_of(a)) for a in sides["inputs"]]
        outputs = [model.OutputDataset(*dataset_of(a)) for a in sides["outputs"]]

        state = execution.last_known_state
        created = _iso(execution.create_time_since_epoch)
        updated = _iso(execution.last_update_time_since_epoch)
        if state in (None, ExecutionState.UNKNOWN):
            out.append(_run_event(model, "OTHER", updated, run, job, inputs, outputs))
            continue
        out.append(_run_event(model, "START", created, run, job, inputs, []))
        if state in _EVENT_TYPES:
            out.append(_run_event(model, _EVENT_TYPES[state], updated, run, job, inputs, outputs))
    return out


def _run_event(
    model: Any, kind: str, when: str, run: Any, job: Any, inputs: list[Any], outputs: list[Any]
) -> Any:
    return model.RunEvent(
        eventType=model.RunState(kind),
        eventTime=when,
        run=run,
        job=job,
        producer=PRODUCER,
        inputs=inputs,
        outputs=outputs,
    )


def emit(
    store: MetadataStore,
    execution_ids: Sequence[int],
    *,
    url: str | None = None,
    file: str | None = None,
    token: str | None = None,
    endpoint: str = "api/v1/lineage",
    namespace: str = "mltrail",
) -> int:
    """Send the OpenLineage events of these executions (see :func:`run_events`) to an
    OpenLineage server at ``url`` (Marquez, an mltrail server: ``endpoint`` under it, ``token``
    as its API key), or append them to ``file``, one JSON event per line; the number sent."""
    if (url is None) == (file is None):
        raise InvalidArgumentError("give either url or file for the OpenLineage events")
    events = run_events(store, execution_ids, namespace=namespace)
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport

    if url is not None:
        if token:
            auth = ApiKeyTokenProvider({"apiKey": token})
            config = HttpConfig(url=url, endpoint=endpoint, auth=auth)
        else:
            config = HttpConfig(url=url, endpoint=endpoint)
        transport: Any = HttpTransport(config)
    else:
        transport = FileTransport(FileConfig(log_file_path=str(file), append=True))
    client = OpenLineageClient(transport=transport)
    sent = 0
    try:
        for event in events:
            client.emit(event)
            sent += 1
    except Exception as exc:
        raise _refused(exc, url or str(file), sent, len(events)) from exc
    finally:
        client.close()
    return sent


def _refused(exc: Exception, where: str, sent: int, total: int) -> Exception:
    """The mltrail error for a transport's failure (requests' errors for HTTP, OSError for a
    file); anything else as it is."""
    import requests

    from mltrail.errors import PermissionDeniedError, UnauthenticatedError, UnavailableError

    done = f"{sent} of {total} events were sent; sending them again adds nothing there"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status, text = exc.response.status_code, exc.response.text[:300]
        kind: type[Exception] = {401: UnauthenticatedError, 403: PermissionDeniedError}.get(
            status, FailedPreconditionError
        )
        return kind(f"the OpenLineage server at {where} answered HTTP {status}: {text} ({done})")
    if isinstance(exc, requests.RequestException):
        return UnavailableError(f"cannot reach the OpenLineage server at {where}: {exc} ({done})")
    if isinstance(exc, OSError):
        return FailedPreconditionError(f"cannot write the events to {where}: {exc} ({done})")
    return exc


__all__ = [
    "IngestReport",
    "check_event",
    "dataset_of",
    "emit",
    "ingest",
    "job_of",
    "run_events",
    "run_id_of",
]
