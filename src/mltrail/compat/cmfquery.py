"""CMF's query API over an mltrail store: ``from mltrail.compat.cmfquery import CmfQuery``.

``CmfQuery(filepath)`` opens the store a CMF script wrote through :class:`mltrail.compat.cmf.Cmf`
(or any mltrail store: what :class:`~mltrail.Tracker` recorded, or CMF history brought in with
``mltrail import cmf``) and answers CMF's questions with CMF's result shapes: pandas DataFrames
whose columns are named as CMF names them (``id``, ``type``, ``uri``, ``name``, the properties,
``custom_properties_<name>``; for executions ``Context_Type``, ``Execution``, ``Execution_uuid``,
``Git_Start_Commit``...), and lists of names or of :class:`~mltrail.Execution` elsewhere. CMF's
type names are used (``Step_Metrics``, ``Dataslice``) and artifacts are named ``"<path>:<hash>"``
as in CMF, with ``uri`` the content hash.

Answers come from set-based store calls, and lineage ("all parents", "all children") from one
recursive query in the database, where CMF walks the graph one artifact at a time. DataFrames
need pandas (``pip install 'mltrail[pandas]'``), imported on first use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from mltrail._connect import connect, is_server_url
from mltrail.compat import _cmf_names as N
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.model import (
    INPUT_EVENT_TYPES,
    OUTPUT_EVENT_TYPES,
    Artifact,
    Context,
    EventType,
    Execution,
    LineageGraph,
)
from mltrail.store import MetadataStore
from mltrail.tracking import _schema as S
from mltrail.tracking.hashing import ALGORITHMS

#: A pandas DataFrame (pandas is optional and untyped here).
DataFrame = Any

__all__ = ["EXCLUDED_ARTIFACT_TYPES", "CmfQuery"]

#: Artifact types CMF leaves out of its lineage views (``get_one_hop_parent_artifacts_with_id``).
EXCLUDED_ARTIFACT_TYPES = ["Environment", "Label"]


def _pandas() -> Any:
    try:
        import pandas  # type: ignore[import-untyped]
    except ImportError:
        raise FailedPreconditionError(
            "CmfQuery answers with pandas DataFrames, and pandas is not installed: "
            "pip install 'mltrail[pandas]'"
        ) from None
    return pandas


def _event_word(kind: EventType | None) -> str:
    """CMF's two words for an event: INPUT for inputs, OUTPUT for everything else."""
    return "INPUT" if kind in INPUT_EVENT_TYPES else "OUTPUT"


class CmfQuery:
    """CMF's ``CmfQuery`` over mltrail.

    ``filepath``: the store file CMF scripts wrote (``Cmf(filepath=...)``, default ``mlmd`` in
    the current directory), or a store URL; ``None`` (mltrail only) is mltrail's default store.
    It is opened read-only, and a file that does not exist is an error rather than a new empty
    store. ``store`` (mltrail only) is an open store (or a URL) to ask instead. ``is_server``
    (CMF's server database from the environment) is refused: give the server's store URL.
    """

    def __init__(
        self,
        filepath: str | None = "mlmd",
        is_server: bool = False,
        *,
        store: MetadataStore | str | os.PathLike[str] | None = None,
    ) -> None:
        if is_server:
            raise InvalidArgumentError(
                "CmfQuery(is_server=True) reads CMF's server database from environment "
                "variables; give the mltrail store's URL as filepath instead"
            )
        self.filepath = filepath
        if store is not None and not isinstance(store, (str, os.PathLike)):
            self.store, self._owns_store = store, False
            return
        location = os.fspath(store) if store is not None else filepath
        if location is None:
            from mltrail._project import default_store_location, project_root

            location = os.environ.get("MLTRAIL_STORE", "").strip() or default_store_location(
                project_root()
            )
        if "://" not in location:
            from mltrail.compat.cmf import _refuse_mlmd_file

            if not os.path.exists(location):
                raise NotFoundError(
                    f"no mltrail store at {location}: give the file the CMF scripts wrote "
                    "(their Cmf(filepath=...)), or import CMF's history first (mltrail import cmf)"
                )
            _refuse_mlmd_file(location)
        options = {} if is_server_url(location) else {"read_only": True}
        self.store, self._owns_store = connect(location, **options), True

    def close(self) -> None:
        """Close the store if this object opened it."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> CmfQuery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ helpers

    def _context_ids(self) -> dict[tuple[str, str], int]:
        """(type, name) → id of every pipeline and stage context: two queries."""
        out: dict[tuple[str, str], int] = {}
        for kind in (S.PIPELINE, S.STAGE):
            for context in self.store.get_contexts_by_type(kind):
                if context.id is not None and context.name is not None:
                    out[(kind, context.name)] = context.id
        return out

    def _pipelines(self, name: str | None = None) -> list[Context]:
        if name is None:
            return list(self.store.get_contexts_by_type(S.PIPELINE))
        found = self.store.get_context_by_type_and_name(S.PIPELINE, name)
        return [found] if found is not None else []

    def _stages(self, pipeline: Context) -> list[Context]:
        assert pipeline.id is not None
        return [
            c for c in self.store.get_children_contexts_by_context(pipeline.id) if c.type == S.STAGE
        ]

    def _stage(self, stage_name: str) -> Context | None:
        return self.store.get_context_by_type_and_name(S.STAGE, stage_name)

    def _find(self, name: str) -> Artifact | None:
        """The artifact CMF calls ``name``: its recorded name, else ``"<path>:<hash>"``."""
        if not isinstance(name, str) or not name.strip():
            return None
        name = name.strip()
        named = self.store.get_artifacts(filter_query=f"name = {N.quoted(name)}", limit=1)
        if named:
            return named[0]
        _, sep, value = name.rpartition(":")
        if not sep:
            return None
        wanted = [f"{algorithm}:{value}" for algorithm in ALGORITHMS]
        wanted += [N.CMF_IDENTITY + value, name]
        for artifact in self.store.get_artifacts_by_external_ids(wanted):
            if N.cmf_name(artifact) == name or artifact.external_id == name:
                return artifact
        return None

    def _artifact_frame(
        self, artifacts: Iterable[Artifact], extra: dict[int, dict[str, Any]] | None = None
    ) -> DataFrame:
        rows = [N.artifact_row(a, (extra or {}).get(a.id or 0)) for a in artifacts]
        return _frame(rows)

    def _execution_frame(self, executions: Iterable[Execution]) -> DataFrame:
        executions = list(executions)
        if not executions:
            return _frame([])
        ids = self._context_ids()
        return _frame([N.execution_row(e, ids) for e in executions])

    def _in_pipeline(self, executions: list[Execution], pipeline_id: int | None) -> list[Execution]:
        if pipeline_id is None:
            return executions
        names = {i: n for (kind, n), i in self._context_ids().items() if kind == S.PIPELINE}
        wanted = names.get(int(pipeline_id))
        return [e for e in executions if e.properties.get("pipeline") == wanted]

    def _producers(self, artifact_ids: Sequence[int]) -> list[int]:
        if not artifact_ids:
            return []
        events = self.store.get_events_by_artifact_ids(list(artifact_ids))
        return sorted({e.execution_id or 0 for e in events if e.type in OUTPUT_EVENT_TYPES})

    def _consumers(self, artifact_ids: Sequence[int]) -> list[int]:
        if not artifact_ids:
            return []
        events = self.store.get_events_by_artifact_ids(list(artifact_ids))
        return sorted({e.execution_id or 0 for e in events if e.type in INPUT_EVENT_TYPES})

    def _artifacts_of(self, execution_ids: Sequence[int], types: frozenset[EventType]) -> list[int]:
        if not execution_ids:
            return []
        events = self.store.get_events_by_execution_ids(list(execution_ids))
        return sorted({e.artifact_id or 0 for e in events if e.type in types})

    def _lineage(self, name: str, direction: str) -> tuple[Artifact | None, LineageGraph]:
        artifact = self._find(name)
        if artifact is None or artifact.id is None:
            return None, LineageGraph()
        return artifact, self.store.lineage(artifact_ids=[artifact.id], direction=direction)

    # ------------------------------------------------------------------------------ pipelines

    def get_pipeline_names(self) -> list[str]:
        """Names of every pipeline."""
        return [c.name or "" for c in self._pipelines()]

    def get_pipeline_id(self, pipeline_name: str) -> int:
        """The pipeline context's id, or -1 when there is no such pipeline."""
        found = self._pipelines(pipeline_name)
        return int(found[0].id or -1) if found else -1

    def get_pipeline_stages(self, pipeline_name: str) -> list[str]:
        """Names of the pipeline's stages (``"<pipeline>/<stage>"``)."""
        return [s.name or "" for p in self._pipelines(pipeline_name) for s in self._stages(p)]

    # ------------------------------------------------------------------------------ executions

    def get_all_exe_in_stage(self, stage_name: str) -> list[Execution]:
        """The executions of the stage ``stage_name`` (``"<pipeline>/<stage>"``)."""
        stage = self._stage(stage_name)
        if stage is None or stage.id is None:
            return []
        return list(self.store.get_executions_by_context(stage.id))

    def get_all_executions_in_stage(self, stage_name: str) -> DataFrame:
        """The executions of a stage, one row each."""
        return self._execution_frame(self.get_all_exe_in_stage(stage_name))

    def get_all_executions_by_stage(
        self, stage_id: int, execution_uuid: str | None = None
    ) -> list[Execution]:
        """The executions of the stage with id ``stage_id``; with ``execution_uuid``, only the
        one that has it among its uuids."""
        executions = list(self.store.get_executions_by_context(stage_id))
        if execution_uuid is None:
            return executions
        return [e for e in executions if execution_uuid in N.execution_uuid(e).split(",")]

    def get_all_executions_in_pipeline(self, pipeline_name: str) -> DataFrame:
        """Every execution of every stage of the pipeline."""
        found = self._pipelines(pipeline_name)
        if not found or found[0].id is None:
            return _frame([])
        return self._execution_frame(self.store.get_executions_by_context(found[0].id))

    def get_all_executions_by_ids_list(self, exe_ids: Sequence[int]) -> DataFrame:
        """The executions with these ids."""
        return self._execution_frame(self.store.get_executions_by_id(list(exe_ids)))

    get_executions_by_ids_list = get_all_executions_by_ids_list

    def get_executions_with_execution_ids(self, exe_ids: Sequence[int]) -> DataFrame:
        """``id``, ``Execution_type_name`` and ``Execution_uuid`` of these executions."""
        columns = ["id", "Execution_type_name", "Execution_uuid"]
        executions = self.store.get_executions_by_id(list(exe_ids)) if exe_ids else []
        rows = [
            {
                "id": e.id,
                "Execution_type_name": N.stage_name(e),
                "Execution_uuid": N.execution_uuid(e),
            }
            for e in executions
        ]
        return _pandas().DataFrame(rows, columns=columns).drop_duplicates()

    def get_all_executions_for_artifact(self, artifact_name: str) -> DataFrame:
        """The executions that read or wrote the artifact: ``Type`` (INPUT/OUTPUT),
        ``execution_id``, ``execution_name``, ``execution_type_name``, ``stage``, ``pipeline``."""
        artifact = self._find(artifact_name)
        if artifact is None or artifact.id is None:
            return _frame([])
        return self.get_all_executions_for_artifact_id(artifact.id)

    def get_all_executions_for_artifact_id(self, artifact_id: int) -> DataFrame:
        """As :meth:`get_all_executions_for_artifact`, for the artifact with this id."""
        events = self.store.get_events_by_artifact_ids([artifact_id])
        ids = [ev.execution_id or 0 for ev in events]
        executions = {e.id: e for e in self.store.get_executions_by_id(ids)}
        rows = []
        for event in events:
            execution = executions.get(event.execution_id)
            if execution is None:
                continue
            stage = N.stage_name(execution)
            rows.append(
                {
                    "Type": _event_word(event.type),
                    "execution_id": execution.id,
                    "execution_name": execution.name or "",
                    "execution_type_name": stage,
                    "stage": stage,
                    "pipeline": execution.properties.get("pipeline", ""),
                }
            )
        return _frame(rows)

    def find_producer_execution(self, artifact_name: str) -> Execution | None:
        """The (first) execution that output the artifact, or None."""
        artifact = self._find(artifact_name)
        if artifact is None or artifact.id is None:
            return None
        producers = self.store.get_artifact_producers(artifact.id)
        return producers[0] if producers else None

    get_producer_execution = find_producer_execution

    def get_one_hop_parent_executions(
        self, execution_id: Sequence[int], pipeline_id: int | None = None
    ) -> list[Execution]:
        """The executions that produced the inputs of these executions (in pipeline
        ``pipeline_id`` when given)."""
        inputs = self._artifacts_of(list(execution_id), INPUT_EVENT_TYPES)
        parents = self.store.get_executions_by_id(self._producers(inputs))
        return self._in_pipeline(list(parents), pipeline_id)

    def get_one_hop_parent_execution_ids(
        self, execution_id: int, pipeline_id: int | None = None
    ) -> list[int]:
        """Ids of :meth:`get_one_hop_parent_executions` of one execution."""
        return [e.id or 0 for e in self.get_one_hop_parent_executions([execution_id], pipeline_id)]

    def get_all_parent_executions_by_id(
        self, execution_id: Sequence[int], pipeline_id: int | None = None
    ) -> list[list[Any]]:
        """Every execution upstream of these executions, at any depth: ``[[[id,
        Execution_type_name, Execution_uuid], ...], [{"source": parent id, "target": child
        id}, ...]]`` (one recursive query)."""
        start = [int(i) for i in execution_id]
        if not start:
            return [[], []]
        graph = self.store.lineage(execution_ids=start, direction="upstream")
        executions = {e.id: e for e in graph.executions}
        allowed = {e.id for e in self._in_pipeline(list(executions.values()), pipeline_id)}
        producers: dict[int, set[int]] = {}
        inputs: dict[int, set[int]] = {}
        for event in graph.events:
            if event.type in OUTPUT_EVENT_TYPES:
                producers.setdefault(event.artifact_id or 0, set()).add(event.execution_id or 0)
            elif event.type in INPUT_EVENT_TYPES:
                inputs.setdefault(event.execution_id or 0, set()).add(event.artifact_id or 0)
        nodes: list[list[Any]] = []
        links: list[dict[str, int]] = []
        for child in sorted(inputs):
            for parent in sorted({p for a in inputs[child] for p in producers.get(a, ())}):
                if parent in allowed and parent != child:
                    links.append({"source": parent, "target": child})
        for execution_key in sorted(k for k in executions if k is not None):
            if execution_key in start or execution_key not in allowed:
                continue
            e = executions[execution_key]
            nodes.append([e.id, N.stage_name(e), N.execution_uuid(e)])
        return [nodes, links]

    def get_all_parent_executions(self, artifact_name: str) -> DataFrame:
        """The executions that produced any artifact upstream of this one (as CMF: the
        producers of its ancestors)."""
        artifact, graph = self._lineage(artifact_name, "upstream")
        if artifact is None:
            return _frame([])
        ancestors = {a.id for a in graph.artifacts if a.id != artifact.id}
        ids = {
            e.execution_id
            for e in graph.events
            if e.type in OUTPUT_EVENT_TYPES and e.artifact_id in ancestors
        }
        return self._execution_frame(e for e in graph.executions if e.id in ids)

    # ------------------------------------------------------------------------------ artifacts

    def get_artifact_df(self, artifact: Artifact, d: dict[str, Any] | None = None) -> DataFrame:
        """One artifact as a one-row DataFrame (``d``: more columns)."""
        return _pandas().DataFrame(N.artifact_row(artifact, d), index=[0])

    def get_all_artifacts(self) -> list[str]:
        """The name of every artifact."""
        return [N.cmf_name(a) for a in self.store.iter_artifacts()]

    get_artifact_names = get_all_artifacts

    def get_artifact(self, name: str) -> DataFrame | None:
        """The artifact CMF calls ``name`` (``"<path>:<hash>"``), or None."""
        artifact = self._find(name)
        return self.get_artifact_df(artifact) if artifact is not None else None

    def get_all_artifact_types(self) -> list[str]:
        """The name of every artifact type (CMF's names: ``Step_Metrics``, ``Dataslice``)."""
        return [N.cmf_type(t.name) for t in self.store.get_artifact_types()]

    def get_all_artifacts_by_context(self, pipeline_name: str) -> DataFrame:
        """The artifacts of a pipeline (attributed to it or to its stages)."""
        found = self._pipelines(pipeline_name)
        if not found or found[0].id is None:
            return _frame([])
        return self._artifact_frame(self.store.get_artifacts_by_context(found[0].id))

    def get_all_artifacts_by_ids_list(self, artifact_ids: Sequence[int]) -> DataFrame:
        return self._artifact_frame(self.store.get_artifacts_by_id(list(artifact_ids)))

    def get_all_artifacts_for_execution(self, execution_id: int) -> DataFrame:
        """The inputs and outputs of an execution, with an ``event`` column (INPUT/OUTPUT)."""
        events = self.store.get_events_by_execution_ids([execution_id])
        artifacts = {
            a.id: a for a in self.store.get_artifacts_by_id([e.artifact_id or 0 for e in events])
        }
        rows = [
            N.artifact_row(artifacts[e.artifact_id], {"event": _event_word(e.type)})
            for e in events
            if e.artifact_id in artifacts
        ]
        return _frame(rows)

    def get_all_artifacts_for_executions(self, execution_ids: Sequence[int]) -> DataFrame:
        """Every artifact these executions read or wrote, once each."""
        ids = self._artifacts_of(list(execution_ids), frozenset(EventType) - {EventType.UNKNOWN})
        return self._artifact_frame(self.store.get_artifacts_by_id(ids))

    def get_one_hop_child_artifacts(
        self, artifact_name: str, pipeline_id: int | None = None
    ) -> DataFrame:
        """The outputs of the executions that read the artifact (in pipeline ``pipeline_id``
        when given)."""
        artifact = self._find(artifact_name)
        if artifact is None or artifact.id is None:
            return _frame([])
        consumers = self.store.get_executions_by_id(self._consumers([artifact.id]))
        chosen = [e.id or 0 for e in self._in_pipeline(list(consumers), pipeline_id)]
        outputs = self._artifacts_of(chosen, OUTPUT_EVENT_TYPES)
        return self._artifact_frame(self.store.get_artifacts_by_id(outputs))

    def get_all_child_artifacts(self, artifact_name: str) -> DataFrame:
        """Every artifact made from this one, at any depth (one recursive query)."""
        artifact, graph = self._lineage(artifact_name, "downstream")
        if artifact is None:
            return _frame([])
        return self._artifact_frame(a for a in graph.artifacts if a.id != artifact.id)

    def get_one_hop_parent_artifacts(self, artifact_name: str) -> DataFrame:
        """The inputs of the executions that produced the artifact."""
        artifact = self._find(artifact_name)
        if artifact is None or artifact.id is None:
            return _frame([])
        return self.get_one_hop_parent_artifacts_with_id(artifact.id, exclude=())

    def get_one_hop_parent_artifacts_with_id(
        self, artifact_id: int, *, exclude: Sequence[str] = tuple(EXCLUDED_ARTIFACT_TYPES)
    ) -> DataFrame:
        """As :meth:`get_one_hop_parent_artifacts` by id, without Environment and Label
        artifacts (CMF's lineage views leave them out)."""
        inputs = self._artifacts_of(self._producers([artifact_id]), INPUT_EVENT_TYPES)
        found = self.store.get_artifacts_by_id(inputs)
        return self._artifact_frame(a for a in found if N.cmf_type(a.type) not in exclude)

    def get_all_parent_artifacts(self, artifact_name: str) -> DataFrame:
        """Every artifact this one was derived from, at any depth, the environment and labels
        included (one recursive query)."""
        artifact, graph = self._lineage(artifact_name, "upstream")
        if artifact is None:
            return _frame([])
        return self._artifact_frame(a for a in graph.artifacts if a.id != artifact.id)

    # ------------------------------------------------------------------------------ contents

    def get_metrics(self, metrics_name: str) -> DataFrame | None:
        """A step-metrics series as a DataFrame indexed by ``SequenceNumber``, one column per
        key (CMF's parquet file). ``metrics_name`` is the artifact's name or the series' name
        (the newest series of that name); None when there is none."""
        found = self._find(metrics_name)
        if found is None or found.type != S.STEP_METRICS:
            series = self.store.get_artifacts_by_type(
                S.STEP_METRICS,
                filter_query=f"properties.metrics_name = {N.quoted(metrics_name)}",
                order_by="id",
                ascending=False,
                limit=1,
            )
            found = series[0] if series else None
        if found is None:
            return None
        recorded = found.properties.get("series")
        if not isinstance(recorded, dict):
            return None
        pd = _pandas()
        steps = pd.Index(recorded.get("steps") or [], name="SequenceNumber")
        return pd.DataFrame(recorded.get("values") or {}, index=steps)

    def read_dataslice(self, name: str) -> DataFrame:
        """The members of the newest data slice named ``name``: one row per file, indexed by
        ``Path``, with its ``hash`` and per-file properties (CMF's parquet file)."""
        newest = N.newest_slice(self.store, name)
        if newest is None:
            raise NotFoundError(f"no data slice named {name!r}")
        files = newest.properties.get("files")
        rows = [
            {"Path": f.get("path"), "hash": f.get("digest"), **(f.get("properties") or {})}
            for f in (files if isinstance(files, list) else [])
            if isinstance(f, dict)
        ]
        pd = _pandas()
        return pd.DataFrame(rows).set_index("Path") if rows else pd.DataFrame()

    # ------------------------------------------------------------------------------ JSON

    def dumptojson(self, pipeline_name: str, exec_uuid: str | None = None) -> str:
        """The pipeline as CMF's JSON (what ``cmf metadata export`` writes): ``{"Pipeline":
        [{..., "stages": [{..., "executions": [{..., "events": [{"type", "artifact"}]}]}]}]}``;
        with ``exec_uuid``, only the execution that has it."""
        from mltrail.compat._cmf_dump import dump_pipelines

        return json.dumps(
            {"Pipeline": dump_pipelines(self.store, self._pipelines(pipeline_name), exec_uuid)}
        )

    def extract_to_json(self, last_sync_time: int | None = None) -> str:
        """Every pipeline as CMF's JSON; with ``last_sync_time`` (ms since the epoch), only
        executions changed after it (and the stages and pipelines holding them or changed)."""
        from mltrail.compat._cmf_dump import dump_pipelines

        pipelines = dump_pipelines(self.store, self._pipelines(), None, since=last_sync_time)
        return json.dumps({"Pipeline": pipelines})


def _frame(rows: list[dict[str, Any]]) -> DataFrame:
    """Rows as CMF builds its tables: columns in sorted order, an empty frame for no rows."""
    pd = _pandas()
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows)
    return frame[sorted(frame.columns)]
