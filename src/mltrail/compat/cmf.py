"""CMF's logging API over mltrail: port a CMF script by changing its import.

    from mltrail.compat.cmf import Cmf      # was: from cmflib.cmf import Cmf

``Cmf`` accepts CMF's calls with CMF's parameter names and defaults and records them with a
:class:`~mltrail.Tracker`. It does none of CMF's side effects: no git commit, checkout or branch,
no ``dvc add``, no ``chdir``, no ``sys.exit``, no neo4j; ``finalize()`` just ends the execution.
What differs on purpose (see ``docs/cmf-migration.md``): artifacts are identified by content
digests in ``external_id`` instead of ``"path:hash"`` names; parameters keep their types; the
file at ``filepath`` (CMF's default ``mlmd``) is an mltrail store, which
:class:`~mltrail.compat.cmfquery.CmfQuery` and ``mltrail --store mlmd ...`` read. CMF's JSON
export (``cmf metadata export``) comes in with :func:`import_json`.
"""

from __future__ import annotations

import copy
import os
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail._project import absolute
from mltrail.compat import _cmf_names as N
from mltrail.compat._cmf_json import ImportReport, import_json
from mltrail.compat._cmf_remote import is_remote, log_url
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.model import (
    Artifact,
    ArtifactState,
    ArtifactType,
    Context,
    Event,
    EventType,
    Execution,
    ExecutionState,
    PropertyType,
)
from mltrail.store import MetadataStore
from mltrail.tracking import Run, Stage, Tracker
from mltrail.tracking import _artifacts as A
from mltrail.tracking import _schema as S
from mltrail.tracking._liveness import owner_properties
from mltrail.tracking._values import property_dict
from mltrail.tracking.hashing import digest_document

URL = N.URL

if TYPE_CHECKING:
    from mltrail.data import TransferReport

__all__ = ["Cmf", "ImportReport", "artifact_pull", "artifact_push", "import_json"]

#: CMF's default ``filepath``: the store file ``mlmd`` in the current directory.
DEFAULT_FILEPATH = "mlmd"


def _without_none(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """CMF writes ``str(None)``; mltrail stores no empty values, so None entries are dropped."""
    return {k: v for k, v in (values or {}).items() if v is not None}


def _refuse_mlmd_file(location: str) -> None:
    """Never write mltrail tables into a CMF (ML Metadata) database."""
    if "://" in location or not os.path.isfile(location):
        return
    try:
        conn = sqlite3.connect(f"file:{Path(location).absolute().as_posix()}?mode=ro", uri=True)
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'MLMDEnv'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return  # not SQLite: connect() reports it
    if found:
        raise FailedPreconditionError(
            f"{location} is a CMF / ML Metadata database; mltrail does not write into it. Bring "
            f"its history into an mltrail store with `mltrail import mlmd {location}` (or "
            "`mltrail import cmf` of a `cmf metadata export` file), and give Cmf another filepath"
        )


class Cmf:
    """CMF's ``Cmf`` over mltrail.

    ``filepath``: where the metadata goes, as in CMF: the SQLite file at this path (relative to
    the current directory; created when missing) is an mltrail store, so ``CmfQuery(filepath)``
    and ``mltrail --store <filepath> ...`` read what the script wrote. A URL (``sqlite:///...``,
    ``postgresql://...``, ``http://...``) is an mltrail store too; ``None`` (mltrail only) is
    mltrail's default store (``$MLTRAIL_STORE``, else ``.mltrail/mltrail.db`` under the
    project root). ``store`` (mltrail only) gives a store object, URL or path instead of
    ``filepath``. ``graph`` and ``is_server`` are accepted for compatibility: there is no neo4j
    graph, and server-side merging is not done through this class.
    """

    def __init__(
        self,
        filepath: str | None = DEFAULT_FILEPATH,
        pipeline_name: str = "",
        custom_properties: Mapping[str, Any] | None = None,
        graph: bool = False,
        is_server: bool = False,
        *,
        store: MetadataStore | str | os.PathLike[str] | None = None,
    ) -> None:
        if is_server:
            raise InvalidArgumentError(
                "Cmf(is_server=True) is CMF's server-side merge; mltrail does not replay pushes "
                "through Cmf, connect to the server's store with mltrail.connect instead"
            )
        location = store if store is not None else filepath
        if isinstance(location, (str, os.PathLike)):
            _refuse_mlmd_file(os.fspath(location))
        self.filepath = filepath
        self.graph = graph
        self.tracker = Tracker(
            pipeline_name or None, location, properties=_without_none(custom_properties)
        )
        self.pipeline_name = self.tracker.pipeline
        self.parent_context: Context = self.tracker.context
        self.child_context: Context | None = None
        self.execution: Execution | None = None
        self._stage: Stage | None = None
        self._run: Run | None = None
        self._steps: dict[str, int] = {}
        self._declared_environment_file = False

    @property
    def store(self) -> MetadataStore:
        return self.tracker.store

    def close(self) -> None:
        """End a running execution (COMPLETE) and close the store if this object opened it."""
        if self._run is not None and not self._run.ended:
            self._run.end()
        self.tracker.close()

    def __enter__(self) -> Cmf:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------ contexts

    def create_context(
        self, pipeline_stage: str, custom_properties: Mapping[str, Any] | None = None
    ) -> Context:
        """Get or create the stage ``pipeline_stage`` (a child of the pipeline)."""
        self._stage = self.tracker.stage(pipeline_stage, _without_none(custom_properties))
        self.child_context = self._stage.context
        return self._stage.context

    def create_execution(
        self,
        execution_type: str,
        custom_properties: Mapping[str, Any] | None = None,
        cmd: str | None = None,
        create_new_execution: bool = True,
    ) -> Execution:
        """Start an execution of the current stage (created from the script's name if none).

        A still running previous execution of this object ends COMPLETE first. With
        ``create_new_execution=False`` the execution named ``execution_type`` is reused (set
        RUNNING again) when it exists, as CMF does for repeated trials.
        """
        if self._stage is None:
            self.create_context(_script_name())
        assert self._stage is not None
        if self._run is not None and not self._run.ended:
            self._run.end()
        params = _without_none(custom_properties)
        run = None
        if not create_new_execution:
            run = self._resume(execution_type, params)
        if run is None:
            run = self._stage.execution(execution_type, parameters=params, command=cmd)
            if not create_new_execution:
                run.execution.name = execution_type
                self.store.put_executions([run.execution], field_mask_paths=["name"])
        run._allow_after_end = True  # CMF scripts log metrics after finalize()
        self._run, self.execution, self._steps = run, run.execution, {}
        return run.execution

    def _resume(self, execution_type: str, params: dict[str, Any]) -> Run | None:
        assert self._stage is not None
        found = self.store.get_execution_by_type_and_name(execution_type, execution_type)
        if found is None:
            return None
        found.last_known_state = ExecutionState.RUNNING
        owner = owner_properties()  # running again, in this process
        found.custom_properties.update({**params, **owner})
        mask = ["last_known_state", *(f"custom_properties.{k}" for k in {**params, **owner})]
        self.store.put_executions([found], field_mask_paths=mask)
        kept = {k: v for k, v in found.custom_properties.items() if not k.startswith("mltrail.")}
        return self._stage.attach(found, kept)

    def update_execution(
        self, execution_id: int, custom_properties: Mapping[str, Any] | None = None
    ) -> Execution:
        """Merge ``custom_properties`` into an execution's custom properties (typed as given)."""
        values = _without_none(custom_properties)
        if self._run is not None and self._run.id == execution_id:
            self._run.log_parameters(values)
            return self._run.execution
        executions = self.store.get_executions_by_id([execution_id])
        if not executions:
            raise InvalidArgumentError(f"no execution with id {execution_id} to update")
        found = executions[0]
        found.custom_properties.update(values)
        self.store.put_executions(
            [found], field_mask_paths=[f"custom_properties.{k}" for k in values] or None
        )
        return found

    def finalize(self) -> None:
        """End the current execution COMPLETE. Nothing is committed anywhere."""
        if self._run is not None:
            self._run.end()

    # ------------------------------------------------------------------------------ artifacts

    def _current(self) -> Run:
        """The current execution; CMF's implicit mode creates one named after the script."""
        if self._run is None:
            self.create_execution(_script_name())
        assert self._run is not None
        return self._run

    def log_dataset(
        self,
        url: str,
        event: str,
        custom_properties: Mapping[str, Any] | None = None,
        label: str | None = None,
        label_properties: Mapping[str, Any] | None = None,
        external: bool = False,
    ) -> Artifact:
        """A dataset file or directory (hashed in-process; never ``dvc add``-ed), or a URL
        (``s3://...``: recorded by the URL, and by its content digest when fsspec can read
        it)."""
        run = self._current()
        if is_remote(url):
            algorithm = self.tracker.hasher.algorithm
            values = _without_none(custom_properties)
            dataset = log_url(run, S.DATASET, url, event, {}, values, algorithm)
        else:
            dataset = run.log_dataset(url, event, properties=_without_none(custom_properties))
        if label:
            run.log_label(
                label, "input", dataset=dataset, properties=_without_none(label_properties)
            )
        return dataset

    def log_label(
        self, url: str, dataset_name: str, custom_properties: Mapping[str, Any] | None = None
    ) -> Artifact:
        """A labels file for the dataset at path ``dataset_name``."""
        run = self._current()
        digest = self.tracker.digest(dataset_name).external_id
        found = self.store.get_artifacts_by_external_ids([digest])
        dataset = found[0] if found else Artifact(external_id=digest)
        return run.log_label(
            url, "input", dataset=dataset, properties=_without_none(custom_properties)
        )

    def log_model(
        self,
        path: str,
        event: str,
        model_framework: str = "Default",
        model_type: str = "Default",
        model_name: str = "Default",
        custom_properties: Mapping[str, Any] | None = None,
    ) -> Artifact:
        """A model file or directory, or a URL (as in :meth:`log_dataset`)."""
        run = self._current()
        if is_remote(path):
            declared = {"framework": model_framework, "model_type": model_type}
            declared["model_name"] = model_name
            values = _without_none(custom_properties)
            algorithm = self.tracker.hasher.algorithm
            return log_url(run, S.MODEL, path, event, declared, values, algorithm)
        return run.log_model(
            path,
            event,
            framework=model_framework,
            model_type=model_type,
            model_name=model_name,
            properties=_without_none(custom_properties),
        )

    def update_dataset_url(self, artifact: Artifact | int, updated_url: str) -> Artifact:
        """Add ``updated_url`` (where the dataset's bytes also are) to the artifact's ``url``
        custom property, a list; a URL already there is not repeated."""
        [updated] = self._add_url([artifact], updated_url)
        return updated

    def update_model_url(self, dup_artifact: list[Any], updated_url: str) -> list[Artifact]:
        """:meth:`update_dataset_url` for each artifact of the list (one transaction)."""
        return self._add_url(dup_artifact, updated_url)

    def _add_url(self, artifacts: list[Any], url: str) -> list[Artifact]:
        if not isinstance(url, str) or not url.strip():
            raise InvalidArgumentError(f"updated_url must be a non-empty string, got {url!r}")
        given = [a if isinstance(a, int) else getattr(a, "id", None) for a in artifacts]
        ids = [i for i in given if isinstance(i, int)]
        if len(ids) != len(given):
            raise InvalidArgumentError("give artifacts recorded in the store (or their ids)")
        found = {a.id: a for a in self.store.get_artifacts_by_id(ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError(f"no artifact with id {missing[0]} to add a url to")
        changed = []
        for artifact in found.values():
            urls = artifact.custom_properties.get(URL)
            listed = list(urls) if isinstance(urls, list) else ([urls] if urls else [])
            if url not in listed:
                artifact.custom_properties[URL] = [*listed, url]
                changed.append(artifact)
        if changed:
            self.store.put_artifacts(changed, field_mask_paths=[f"custom_properties.{URL}"])
        return [found[i] for i in ids]

    def log_python_env(self, url: str) -> Artifact:
        """The environment file at ``url`` (``pip freeze`` output, a conda YAML...) as an
        Environment input of the current execution, identified by its content. Each execution
        records the running interpreter's environment by itself too."""
        run = self._current()
        if not self._declared_environment_file:
            environment = S.ARTIFACT_TYPES[S.ENVIRONMENT]
            wider = {**environment.properties, **S.FILE_PROPERTIES}
            self.store.put_artifact_type(
                ArtifactType(name=S.ENVIRONMENT, properties=wider, base_type=None),
                can_add_fields=True,
                can_omit_fields=True,
            )
            self._declared_environment_file = True
        return run._log_file(S.ENVIRONMENT, url, "input", {}, None)

    def log_validation_output(
        self, version: str, custom_properties: Mapping[str, Any] | None = None
    ) -> Artifact:
        """A validation result: a ValidationOutput artifact (property ``version``, the values
        as typed custom properties), an INTERNAL_OUTPUT of the current execution, identified
        by its content."""
        if not isinstance(version, str) or not version:
            raise InvalidArgumentError(f"version must be a non-empty string, got {version!r}")
        run = self._current()
        values = property_dict(_without_none(custom_properties), "property", reserved=False)
        document = {"kind": "validation_output", "version": version, "properties": values}
        artifact = Artifact(
            type=N.VALIDATION_OUTPUT,
            external_id=digest_document(document, self.tracker.hasher.algorithm),
            state=ArtifactState.LIVE,
            properties={"version": version},
            custom_properties=values,
        )
        self.store.put_artifact_type(
            ArtifactType(name=N.VALIDATION_OUTPUT, properties={"version": PropertyType.STRING}),
            can_add_fields=True,
            can_omit_fields=True,
        )
        assert artifact.external_id is not None
        with run._logging():
            found = self.store.get_artifacts_by_external_ids([artifact.external_id])
            if found:
                events = self.store.get_events_by_artifact_ids([found[0].id or 0])
                if any(
                    e.execution_id == run.id and e.type == EventType.INTERNAL_OUTPUT for e in events
                ):
                    return found[0]
                artifact = found[0]
            edge = Event(execution_id=run.id, type=EventType.INTERNAL_OUTPUT, path=[version])
            _, [artifact.id], _ = self.store.put_lineage_subgraph(
                [],
                [artifact],
                list(run.scope.contexts),
                [(None, 0, edge)],
                reuse_context_if_already_exist=True,
                reuse_artifact_if_already_exist_by_external_id=True,
            )
            return artifact

    def log_execution_metrics(
        self, metrics_name: str, custom_properties: Mapping[str, Any] | None = None
    ) -> Artifact:
        """Execution-level metrics, values typed as given."""
        return self._current().log_metrics(_without_none(custom_properties), name=metrics_name)

    def log_metric(
        self, metrics_name: str, custom_properties: Mapping[str, Any] | None = None
    ) -> None:
        """One step of a metric series, numbered from 1 as in CMF; kept until commit_metrics."""
        step = self._steps.get(metrics_name, 0) + 1
        self._current().log_metric(metrics_name, _without_none(custom_properties), step=step)
        self._steps[metrics_name] = step

    def commit_metrics(self, metrics_name: str) -> Artifact:
        """Write the steps of ``metrics_name`` as one StepMetrics artifact (no parquet file)."""
        [artifact] = self._current().commit_metrics(metrics_name)
        return artifact

    def create_dataslice(self, name: str) -> Cmf.DataSlice:
        return Cmf.DataSlice(name, self)

    def update_dataslice(
        self, name: str, record: str, custom_properties: Mapping[str, Any]
    ) -> Artifact:
        """Change the properties of the file ``record`` in the data slice ``name`` (the newest
        one of that name). A slice is identified by its members and their properties, so this
        records the changed slice as a new DataSlice artifact, an output of the current
        execution; the earlier one stays as it was (CMF rewrites its parquet file in place)."""
        run = self._current()
        newest = N.newest_slice(self.store, name)
        if newest is None:
            raise NotFoundError(f"no data slice named {name!r}; commit it first")
        files = copy.deepcopy(newest.properties.get("files"))
        members = files if isinstance(files, list) else []
        shown = self.tracker.display_path(absolute(record))
        member = next((f for f in members if f.get("path") in (record, shown)), None)
        if member is None:
            listed = ", ".join(str(f.get("path")) for f in members)
            raise InvalidArgumentError(
                f"data slice {name!r} has no file {record!r}; its files are: {listed}"
            )
        member["properties"] = {
            **(member.get("properties") or {}),
            **property_dict(_without_none(custom_properties), "file property", reserved=False),
        }
        algorithm = newest.properties.get("algorithm")
        kept = {k: v for k, v in newest.custom_properties.items() if not k.startswith("mltrail.")}
        template = A.dataslice_artifact(
            name, members, str(algorithm or self.tracker.hasher.algorithm), kept
        )
        with run._logging():
            return run._record_file(template, EventType.OUTPUT, [name])

    class DataSlice:
        """A named set of files with per-file properties, recorded by :meth:`commit`."""

        def __init__(self, name: str, writer: Cmf) -> None:
            self.name = name
            self.writer = writer
            self.props: dict[str, dict[str, Any]] = {}

        def add_data(self, path: str, custom_properties: Mapping[str, Any] | None = None) -> None:
            self.props[path] = _without_none(custom_properties)

        def commit(self, custom_properties: Mapping[str, Any] | None = None) -> Artifact:
            return self.writer._current().log_dataslice(
                self.name, self.props, properties=_without_none(custom_properties)
            )


def _script_name() -> str:
    """The running script's file stem (CMF's name for implicit stages and executions)."""
    return Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else "main"


# ------------------------------------------------------------------------ module functions


def artifact_push(
    pipeline_name: str, filepath: str | None = "./mlmd", jobs: int = 32, *, remote: Any = None
) -> TransferReport:
    """CMF's ``artifact_push``: send the bytes of pipeline ``pipeline_name``'s artifacts to
    the data remote (``remote``, mltrail only: a remote's name, a data URL or a directory;
    default: the only configured remote with a data end, where CMF takes DVC's default
    remote). Only what the remote lacks is sent; returns the transfer's report."""
    with _tracker(pipeline_name, filepath) as tracker:
        return tracker.push_data(remote, jobs=jobs)


def artifact_pull(
    pipeline_name: str,
    file_name: str | None = "./mlmd",
    artifact_name: str | None = None,
    *,
    remote: Any = None,
) -> list[Path]:
    """CMF's ``artifact_pull``: bring the bytes of pipeline ``pipeline_name``'s files and
    directories (or of the one ``artifact_name`` names: its path, or CMF's ``"path:digest"``)
    from the data remote into the cache, verified, and check them out at the paths they were
    logged at. Returns those paths."""
    from mltrail.data import checkout
    from mltrail.tracking import _fetch

    with _tracker(pipeline_name, file_name) as tracker:
        context = tracker._existing_context()
        assert context.id is not None
        chosen = [
            a
            for a in tracker.store.get_artifacts_by_context(context.id)
            if a.properties.get("kind") in _fetch.KINDS_WITH_BYTES
        ]
        if artifact_name is not None:
            path = artifact_name.rsplit(":", 1)[0] if ":" in artifact_name else artifact_name
            chosen = [
                a
                for a in chosen
                if path in _listed(a.properties.get("paths")) or artifact_name == a.external_id
            ]
            if not chosen:
                raise InvalidArgumentError(
                    f"pipeline {pipeline_name!r} has no file or directory {artifact_name!r}"
                )
        if not chosen:
            return []
        tracker.pull_data(remote, artifacts=chosen)
        paths = []
        for artifact in chosen:
            target = _fetch.recorded_path(artifact, tracker.root)
            checkout(tracker.data.cache, _fetch.artifact_oid(artifact), target)
            paths.append(target)
        return paths


def _tracker(pipeline_name: str, location: str | None) -> Tracker:
    """A tracker over the existing store at ``location`` (None: mltrail's default store)."""
    if not isinstance(pipeline_name, str) or not pipeline_name:
        raise InvalidArgumentError("give the pipeline's name (pipeline_name)")
    if location is not None:
        _refuse_mlmd_file(location)
        if "://" not in location and not os.path.exists(location):
            raise NotFoundError(
                f"no mltrail store at {location}: give the file the pipeline's scripts wrote "
                "(their Cmf(filepath=...))"
            )
    return Tracker(pipeline_name, location, git=False, environment=False)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
