"""``Tracker`` and ``Stage``: where runs are recorded.

A tracker records one pipeline into a store. The pipeline is a context (type ``Pipeline``, named
after the pipeline); each stage is a context (type ``Stage``, named ``"<pipeline>/<stage>"``,
with ``pipeline`` and ``stage`` properties) that is a child of the pipeline context. Executions
and artifacts belong to both. Contexts are created on first use and reused afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import shlex
import socket
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail._connect import connect
from mltrail._project import (
    MEMO_FILE,
    absolute,
    default_store_location,
    display_path,
    project_root,
    state_directory,
)
from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from mltrail.model import (
    Artifact,
    Context,
    Event,
    EventType,
    Execution,
    ExecutionState,
    ParentContext,
    PropertyValue,
)
from mltrail.query.fingerprint import CachedExecution, CacheExplanation, Fingerprint
from mltrail.store import MetadataStore
from mltrail.tracking import _liveness as L
from mltrail.tracking import _schema as S
from mltrail.tracking._artifacts import environment_artifact
from mltrail.tracking._data import DataSide
from mltrail.tracking._memo import HashMemo
from mltrail.tracking._scope import RunScope
from mltrail.tracking._values import property_dict
from mltrail.tracking._writer import ArtifactWriter
from mltrail.tracking.environment import capture_environment
from mltrail.tracking.git import GitInfo, capture_git
from mltrail.tracking.hashing import ContentDigest, Hasher
from mltrail.tracking.run import Run
from mltrail.tracking.stale import close_stale_runs

if TYPE_CHECKING:
    from mltrail.data import Cache, TransferReport

__all__ = ["Stage", "Tracker"]


class Tracker:
    """Records a pipeline's stages, runs and artifacts.

    ``pipeline``: the pipeline's name (default: the project directory's name). ``store``: a
    :class:`~mltrail.MetadataStore` (or a server's store), a URL (``http://...`` for a server)
    or a path; by default ``$MLTRAIL_STORE``, else the SQLite file ``.mltrail/mltrail.db``
    under the project root (the git work tree root, else the current directory). ``root`` overrides
    the project root, which paths are recorded relative to. ``hash_algorithm``: ``"sha256"`` or
    ``"md5"`` (DVC's). ``hash_memo=False`` re-reads every
    file instead of trusting the (path, size, mtime, inode) memo. ``git=False`` and
    ``environment=False`` skip capturing the code version and the Python environment.
    ``cache``: where logged files and directories keep their bytes (see :mod:`mltrail.data`):
    ``True`` (the default) the project's cache (``$MLTRAIL_CACHE``, else
    ``.mltrail/cache`` under the root), a path another directory, ``False`` none (metadata
    only; transfers still go through the default cache).

    A store the tracker opened is closed by :meth:`close` (or leaving a ``with`` block); a store
    passed in stays open.
    """

    def __init__(
        self,
        pipeline: str | None = None,
        store: MetadataStore | str | os.PathLike[str] | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
        properties: Mapping[str, Any] | None = None,
        hash_algorithm: str = "sha256",
        hash_memo: bool = True,
        git: bool = True,
        environment: bool = True,
        cache: bool | str | os.PathLike[str] = True,
    ) -> None:
        self.root = absolute(root) if root is not None else project_root()
        self.pipeline = pipeline if pipeline is not None else self.root.name
        if not isinstance(self.pipeline, str) or not self.pipeline.strip():
            raise InvalidArgumentError("the pipeline needs a non-empty name")
        self._properties = property_dict(properties, "pipeline property")
        self.hasher = Hasher(hash_algorithm, _memo(self.root) if hash_memo else None)
        self.data = DataSide(self.root, cache)
        # A store object (a MetadataStore, or a server's RemoteStore) is used as given; a URL or
        # a path is opened here and closed with the tracker.
        if store is None or isinstance(store, (str, os.PathLike)):
            self._owns_store = True
            self.store = connect(store if store is not None else default_store_location(self.root))
        else:
            self._owns_store = False
            self.store = store
        self._capture_git = git
        self._capture_environment = environment
        self._types = S.TypeRegistry(self.store)
        self._writer = ArtifactWriter(self.store, self._types)
        self._lock = threading.RLock()
        self._context: Context | None = None
        self._stages: dict[str, Stage] = {}
        self._environment_id: int | None = None

    def __repr__(self) -> str:
        return f"<Tracker pipeline={self.pipeline!r} store={self.store!r}>"

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the hash memo, and the store if the tracker opened it."""
        if self.hasher.memo is not None:
            self.hasher.memo.close()
        if self._owns_store:
            self.store.close()

    # ------------------------------------------------------------------------------ contexts

    @property
    def context(self) -> Context:
        """The pipeline's context (created on first use)."""
        with self._lock:
            if self._context is None:
                self._context = self._get_or_create(
                    Context(type=S.PIPELINE, name=self.pipeline, custom_properties=self._properties)
                )
            return self._context

    def stage(self, name: str, properties: Mapping[str, Any] | None = None) -> Stage:
        """The stage ``name`` of this pipeline (created on first use). ``properties`` become
        custom properties of its context."""
        if not isinstance(name, str) or not name.strip() or "/" in name:
            raise InvalidArgumentError(
                f"stage name {name!r} is not valid; give a non-empty name without '/'"
            )
        extra = property_dict(properties, "stage property")
        with self._lock:
            stage = self._stages.get(name)
            if stage is None or extra:
                parent = self.context
                context = self._get_or_create(
                    Context(
                        type=S.STAGE,
                        name=f"{self.pipeline}/{name}",
                        properties={"pipeline": self.pipeline, "stage": name},
                        custom_properties=extra,
                    )
                )
                assert context.id is not None and parent.id is not None
                parents = self.store.get_parent_contexts_by_context(context.id)
                if parent.id not in {p.id for p in parents}:
                    try:
                        link = ParentContext(child_id=context.id, parent_id=parent.id)
                        self.store.put_parent_contexts([link])
                    except AlreadyExistsError:
                        pass  # linked by another writer meanwhile
                stage = self._stages[name] = Stage(self, name, context)
            return stage

    def _get_or_create(self, wanted: Context) -> Context:
        """The stored context of ``wanted``'s type and name, created (or given the custom
        properties ``wanted`` brings) as needed."""
        assert wanted.type is not None and wanted.name is not None
        self._types.context(wanted.type)
        for _ in range(3):
            found = self.store.get_context_by_type_and_name(wanted.type, wanted.name)
            if found is not None:
                changed = {
                    k: v
                    for k, v in wanted.custom_properties.items()
                    if found.custom_properties.get(k) != v
                }
                if changed:
                    found.custom_properties.update(changed)
                    self.store.put_contexts(
                        [found], field_mask_paths=[f"custom_properties.{k}" for k in changed]
                    )
                return found
            try:
                [wanted.id] = self.store.put_contexts([wanted])
                return wanted
            except AlreadyExistsError:
                continue  # created by another writer meanwhile
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------------------ data

    @property
    def cache(self) -> Cache | None:
        """The cache logged files go into (None with ``cache=False``)."""
        return self.data.cache if self.data.logging else None

    def push_data(self, remote: Any = None, **options: Any) -> TransferReport:
        """Push the bytes of this pipeline's artifacts to ``remote`` (a configured remote's
        name, a data URL, a directory or an :class:`~mltrail.data.ObjectStore`; None: the only
        configured remote with a data end). ``options`` go to :func:`mltrail.data.push`
        (``artifacts=``, ``jobs=``, ``progress=``...); only what the remote lacks is sent."""
        from mltrail import data

        if "artifacts" not in options and "context" not in options:
            options["context"] = self._existing_context().id
        return data.push(
            self.store,
            self.data.remote(remote),
            cache=self.data.cache,
            root=self.root,
            **options,
        )

    def pull_data(self, remote: Any = None, **options: Any) -> TransferReport:
        """Bring the bytes of this pipeline's artifacts from ``remote`` (as in
        :meth:`push_data`) into the cache, verified; ``options`` go to
        :func:`mltrail.data.pull`. Check them out with ``run.fetch`` or
        :func:`mltrail.data.checkout`."""
        from mltrail import data

        if "artifacts" not in options and "context" not in options:
            options["context"] = self._existing_context().id
        return data.pull(self.store, self.data.remote(remote), cache=self.data.cache, **options)

    def _existing_context(self) -> Context:
        """The pipeline's context, not created: NotFoundError when nothing was logged."""
        with self._lock:
            if self._context is None:
                found = self.store.get_context_by_type_and_name(S.PIPELINE, self.pipeline)
                if found is None:
                    raise NotFoundError(
                        f"pipeline {self.pipeline!r} has logged nothing in {self.store!r}: "
                        "there is no data of it to move"
                    )
                self._context = found
            return self._context

    # ------------------------------------------------------------------------------ helpers

    def digest(self, path: str | os.PathLike[str]) -> ContentDigest:
        """The content digest of a file or directory, as tracking records it."""
        return self.hasher.digest(path)

    def display_path(self, path: Path) -> str:
        return display_path(path, self.root)

    def git(self) -> GitInfo | None:
        """The git state of the project now (None outside git or with ``git=False``)."""
        return capture_git(self.root) if self._capture_git else None

    def close_stale_runs(
        self,
        older_than: dt.timedelta | float | None = None,
        *,
        state: ExecutionState | str = "FAILED",
    ) -> list[Execution]:
        """Close this pipeline's runs left RUNNING by a process that died; see
        :func:`mltrail.tracking.close_stale_runs`."""
        return close_stale_runs(self.store, older_than, state=state, pipeline=self.pipeline)

    def _environment_input(self) -> tuple[Artifact | None, Event] | None:
        """The environment as an input of a new execution: by id once it is known, else the
        artifact itself (created, or found by its digest, with the execution)."""
        if not self._capture_environment:
            return None
        event = Event(type=EventType.INPUT, path=["environment"])
        if self._environment_id is not None:
            event.artifact_id = self._environment_id
            return None, event
        self._types.artifact(S.ENVIRONMENT)
        return environment_artifact(capture_environment()), event


class Stage:
    """A stage of a pipeline: start executions of it, or ask whether one already ran."""

    def __init__(self, tracker: Tracker, name: str, context: Context) -> None:
        self.tracker = tracker
        self.name = name
        #: The stage's context (type ``Stage``), a child of the pipeline's context.
        self.context = context
        self.context_name = str(context.name)
        self.contexts = [
            Context(type=S.PIPELINE, name=tracker.pipeline),
            Context(type=S.STAGE, name=self.context_name),
        ]
        self._scope = RunScope(
            store=tracker.store,
            hasher=tracker.hasher,
            writer=tracker._writer,
            data=tracker.data,
            root=tracker.root,
            display_path=tracker.display_path,
            stage_name=self.context_name,
            contexts=tuple(self.contexts),
        )

    def __repr__(self) -> str:
        return f"<Stage {self.context_name!r}>"

    def execution(
        self,
        execution_type: str | None = None,
        *,
        parameters: Mapping[str, Any] | None = None,
        command: str | Sequence[str] | None = None,
        code_version: str | None = None,
    ) -> Run:
        """Start an execution (recorded RUNNING now); use the returned run as a context manager.

        ``execution_type`` defaults to the stage's name. ``parameters`` are recorded typed as
        given, as custom properties. ``command`` defaults to ``sys.argv``. ``code_version``
        defaults to the git commit (plus the diff digest when the work tree is dirty).
        """
        tracker = self.tracker
        type_name = execution_type if execution_type is not None else self.name
        if not isinstance(type_name, str) or not type_name.strip():
            raise InvalidArgumentError("execution_type must be a non-empty string")
        params = property_dict(parameters, "parameter")
        argv = list(sys.argv) if command is None else command
        if isinstance(argv, str):
            text, argv = argv, _split(argv)
        else:
            argv = [str(a) for a in argv]
            text = shlex.join(argv)
        properties: dict[str, PropertyValue] = {
            "pipeline": tracker.pipeline,
            "stage": self.name,
            "command": text,
            "argv": argv,
            "start_time": L.now_ms(),
            "hostname": socket.gethostname(),
        }
        git = tracker.git()
        if git is not None:
            for key, value in (
                ("git_commit", git.commit),
                ("git_branch", git.branch),
                ("git_remote", git.remote),
                ("git_dirty", git.dirty),
                ("git_diff_digest", git.diff_digest),
            ):
                if value is not None:
                    properties[key] = value
        version = code_version if code_version is not None else (git.code_version if git else None)
        if version:
            properties["code_version"] = version
        tracker._types.execution(type_name)
        execution = Execution(
            type=type_name,
            external_id=str(uuid.uuid4()),
            last_known_state=ExecutionState.RUNNING,
            properties=properties,
            custom_properties={**params, **L.owner_properties()},
        )
        environment = tracker._environment_input()
        execution.id, artifact_ids, _ = tracker.store.put_execution(
            execution,
            [environment] if environment is not None else [],
            [tracker.context, self.context],
            reuse_artifact_if_already_exist_by_external_id=True,
            force_reuse_context=True,
        )
        if environment is not None and environment[0] is not None:
            tracker._environment_id = artifact_ids[0]
        return Run(self._scope, execution, params)

    def attach(self, execution: Execution, parameters: Mapping[str, Any]) -> Run:
        """A run over an execution of this stage recorded earlier and set RUNNING again (how
        the CMF facade resumes an execution); ``parameters`` are its parameters so far."""
        return Run(self._scope, execution, property_dict(parameters, "parameter"))

    def executions(self) -> list[Execution]:
        """Every execution of this stage, oldest first."""
        assert self.context.id is not None
        return list(self.tracker.store.get_executions_by_context(self.context.id))

    # ------------------------------------------------------------------------------ caching

    def fingerprint(
        self,
        *,
        parameters: Mapping[str, Any] | None = None,
        inputs: Iterable[str | os.PathLike[str]] = (),
        execution_type: str | None = None,
        code_version: str | None = None,
    ) -> Fingerprint:
        """The fingerprint an execution of this stage would get: ``inputs`` are the paths it
        would log as inputs (hashed now), ``code_version`` defaults to the current git state."""
        tracker = self.tracker
        named = {}
        for path in inputs:
            target = absolute(path)
            named[tracker.display_path(target)] = tracker.hasher.digest(target).external_id
        if code_version is None:
            git = tracker.git()
            code_version = git.code_version if git else None
        return Fingerprint.of(
            execution_type if execution_type is not None else self.name,
            parameters=property_dict(parameters, "parameter"),
            code_version=code_version,
            inputs=named,
        )

    def find_cached(self, **fingerprint: Any) -> CachedExecution | None:
        """The latest COMPLETE execution with the same fingerprint (see :meth:`fingerprint` for
        the arguments) and its outputs, or None."""
        return self.tracker.store.find_cached_execution(self.fingerprint(**fingerprint))

    def explain_cache_miss(self, **fingerprint: Any) -> CacheExplanation:
        """What differs from the nearest earlier execution (same arguments as
        :meth:`fingerprint`)."""
        return self.tracker.store.explain_cache_miss(self.fingerprint(**fingerprint))


def _memo(root: Path) -> HashMemo | None:
    """The project's hash memo; none when ``.mltrail/`` cannot be created (a read-only tree)."""
    try:
        return HashMemo(state_directory(root) / MEMO_FILE)
    except OSError:
        return None


def _split(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return [command]
