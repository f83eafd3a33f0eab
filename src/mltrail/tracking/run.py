"""``Run``: one execution of a stage, recorded as it happens.

A run is created RUNNING by :meth:`Stage.execution <mltrail.tracking.Stage.execution>` and is a
context manager: leaving the ``with`` block ends it COMPLETE, or FAILED with the error's type and
message when an exception escapes (the exception is re-raised; ``KeyboardInterrupt`` ends it
CANCELED). Everything logged is written at once, except step metrics, which are written when the
run commits them or ends. Ending also records the run's fingerprint (type, parameters, code
version, input digests) so later runs can ask whether the same work was already done.
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from mltrail._project import absolute
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, MltrailError
from mltrail.model import (
    INPUT_EVENT_TYPES,
    Artifact,
    EventType,
    Execution,
    ExecutionState,
    PropertyValue,
)
from mltrail.query.fingerprint import (
    DIGEST_PROPERTY,
    PARTS_PROPERTY,
    CachedExecution,
    CacheExplanation,
    Fingerprint,
)
from mltrail.store import MetadataStore
from mltrail.tracking import _artifacts as A
from mltrail.tracking import _fetch as F
from mltrail.tracking import _liveness as L
from mltrail.tracking import _schema as S
from mltrail.tracking._scope import RunScope
from mltrail.tracking._series import Series
from mltrail.tracking._states import error_properties, final_state
from mltrail.tracking._values import event_type, metric_values, property_dict


class Run:
    """A running execution. Build one with ``stage.execution(...)``; use it in a ``with`` block
    or call :meth:`end` yourself. One run is meant to be used by one thread at a time.

    While it is open, the run's log calls refresh its heartbeat (the custom property
    ``mltrail.heartbeat_time``) at most every 30 seconds, so that a run whose process died can
    be told from a live one (see :func:`mltrail.tracking.close_stale_runs`).
    """

    def __init__(
        self, scope: RunScope, execution: Execution, parameters: dict[str, PropertyValue]
    ) -> None:
        self.scope = scope
        #: The execution as recorded (``id``, ``external_id`` = the run's UUID, properties...).
        self.execution = execution
        self._parameters = parameters
        self._inputs: dict[str, str] = {}  # input name (its path) -> content digest
        self._recorded: set[tuple[str, EventType]] = set()  # (artifact digest, event type)
        self._series: dict[str, Series] = {}
        self._resume_steps: dict[str, int] = {}  # default next step of committed series
        self._cached: CachedExecution | None = None
        self._ended = False
        self._allow_after_end = False  # the CMF facade logs after finalize(), as CMF allows
        self._lock = threading.RLock()
        beat = execution.custom_properties.get(L.HEARTBEAT_PROPERTY)
        self._beat_ms = beat if isinstance(beat, int) else 0

    # ------------------------------------------------------------------------------ identity

    @property
    def id(self) -> int:
        """The execution's id in the store."""
        assert self.execution.id is not None
        return self.execution.id

    @property
    def uuid(self) -> str:
        """The run's global identity (also the execution's ``external_id``)."""
        assert self.execution.external_id is not None
        return self.execution.external_id

    @property
    def store(self) -> MetadataStore:
        """The store the run is recorded in."""
        return self.scope.store

    @property
    def parameters(self) -> dict[str, PropertyValue]:
        return dict(self._parameters)

    @property
    def state(self) -> ExecutionState:
        assert self.execution.last_known_state is not None
        return self.execution.last_known_state

    @property
    def ended(self) -> bool:
        return self._ended

    def __repr__(self) -> str:
        return (
            f"<Run {self.execution.type} #{self.execution.id} of {self.scope.stage_name} "
            f"{self.state.name}>"
        )

    # ------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end()
            return
        try:
            self.end(error=exc)
        except MltrailError as failure:  # never hide the user's exception behind ours
            note = getattr(exc, "add_note", None)
            if note is not None:
                note(f"mltrail could not record the failed execution: {failure}")

    def end(
        self, state: ExecutionState | str | None = None, *, error: BaseException | None = None
    ) -> None:
        """Write pending step metrics and the final state (COMPLETE, or FAILED with ``error``).

        Ending twice does nothing. ``KeyboardInterrupt`` ends the run CANCELED; ``SystemExit``
        with code 0 or None ends it COMPLETE.
        """
        with self._lock:
            if self._ended:
                return
            final = final_state(state, error, self._cached is not None)
            execution = self.execution
            previous = (execution.last_known_state, dict(execution.properties))
            execution.last_known_state = final
            execution.properties["end_time"] = L.now_ms()
            if error is not None and final in (ExecutionState.FAILED, ExecutionState.CANCELED):
                execution.properties.update(error_properties(error))
            self.fingerprint().apply(execution)
            try:
                self._write_series(list(self._series), execution)
            except BaseException:
                execution.last_known_state, execution.properties = previous
                raise
            self._ended = True

    @contextlib.contextmanager
    def _logging(self) -> Iterator[None]:
        """Hold the run's lock for one log call, refuse it after the end (CMF's facade
        excepted), and refresh the heartbeat when the call succeeded and it is due."""
        with self._lock:
            if self._ended and not self._allow_after_end:
                raise FailedPreconditionError(
                    f"execution {self.execution.id} has ended; log inside the `with` block, or "
                    "start another execution"
                )
            yield
            if not self._ended and L.now_ms() - self._beat_ms >= L.HEARTBEAT_INTERVAL_MS:
                # The call itself succeeded: a heartbeat that cannot be written now (a busy
                # or unreachable store) is not its failure, and is tried again next time.
                with contextlib.suppress(MltrailError):
                    self._write_heartbeat()

    def heartbeat(self) -> None:
        """Record now that the run is alive. Log calls do it (at most every 30 seconds); call
        this in long stretches that log nothing, so other hosts do not take the run for stale."""
        with self._logging():
            if not self._ended:
                self._write_heartbeat()

    def _write_heartbeat(self) -> None:
        now = L.now_ms()
        properties = self.execution.custom_properties
        previous = properties.get(L.HEARTBEAT_PROPERTY)
        properties[L.HEARTBEAT_PROPERTY] = now
        try:
            self.scope.store.put_executions(
                [self.execution], field_mask_paths=[f"custom_properties.{L.HEARTBEAT_PROPERTY}"]
            )
        except BaseException:
            if previous is None:
                del properties[L.HEARTBEAT_PROPERTY]
            else:
                properties[L.HEARTBEAT_PROPERTY] = previous
            raise
        self._beat_ms = now

    # ------------------------------------------------------------------------------ parameters

    def log_parameters(self, values: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Add or change parameters (custom properties of the execution, typed as given)."""
        with self._logging():
            given = property_dict({**(values or {}), **more}, "parameter")
            if not given:
                return
            self._parameters.update(given)
            self.execution.custom_properties.update(given)
            mask = [f"custom_properties.{key}" for key in given]
            if self._ended:  # the recorded fingerprint must follow the parameters
                self.fingerprint().apply(self.execution)
                mask += [
                    f"custom_properties.{DIGEST_PROPERTY}",
                    f"custom_properties.{PARTS_PROPERTY}",
                ]
            self.scope.store.put_executions([self.execution], field_mask_paths=mask)

    # ------------------------------------------------------------------------------ files

    def log_dataset(
        self,
        path: Any,
        event: EventType | str = "input",
        *,
        properties: Mapping[str, Any] | None = None,
    ) -> Artifact:
        """A file or directory read (``"input"``) or written (``"output"``) by this run.

        ``properties`` become custom properties of the artifact (newest values win).
        """
        return self._log_file(S.DATASET, path, event, {}, properties)

    def log_model(
        self,
        path: Any,
        event: EventType | str = "output",
        *,
        framework: str | None = None,
        model_type: str | None = None,
        model_name: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Artifact:
        """A model file or directory; ``framework``, ``model_type`` and ``model_name`` are kept
        from the first log of the same bytes."""
        declared = {"framework": framework, "model_type": model_type, "model_name": model_name}
        given = {k: v for k, v in declared.items() if v is not None}
        return self._log_file(S.MODEL, path, event, given, properties)

    def log_label(
        self,
        path: Any,
        event: EventType | str = "input",
        *,
        dataset: Artifact | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> Artifact:
        """A labels file, optionally tied to the dataset it labels (its digest joins the label's
        ``datasets`` property)."""
        declared: dict[str, Any] = {}
        if dataset is not None:
            if not dataset.external_id:
                raise InvalidArgumentError("dataset must be an artifact logged by mltrail")
            declared["datasets"] = [dataset.external_id]
        return self._log_file(S.LABEL, path, event, declared, properties)

    def _log_file(
        self,
        type_name: str,
        path: Any,
        event: EventType | str,
        declared: dict[str, Any],
        custom: Mapping[str, Any] | None,
    ) -> Artifact:
        kind = event_type(event)
        extra = property_dict(custom, "property", reserved=False)
        target = absolute(path)
        with self._logging():
            digest = self.scope.hasher.digest(target)
            self.scope.data.add(target, digest)  # the bytes first: never metadata without them
            shown = self.scope.display_path(target)
            template = A.file_artifact(type_name, digest, shown, declared, extra)
            artifact = self._record_file(template, kind, [shown])
            if kind in INPUT_EVENT_TYPES:
                self._inputs[shown] = digest.external_id
            return artifact

    def _record_file(
        self, template: Artifact, kind: EventType, path: Sequence[str | int]
    ) -> Artifact:
        assert template.external_id is not None
        key = (template.external_id, kind)
        artifact = self.scope.writer.record_file(
            template,
            self.scope.contexts,
            self.id,
            None if key in self._recorded else kind,
            path,
        )
        self._recorded.add(key)
        return artifact

    def log_dataslice(
        self,
        name: str,
        files: Mapping[Any, Mapping[str, Any] | None] | Iterable[Any],
        event: EventType | str = "output",
        *,
        properties: Mapping[str, Any] | None = None,
    ) -> Artifact:
        """A named subset of files: ``files`` is a list of paths or ``{path: properties}``.

        The slice is identified by its members (paths, digests and per-file properties), which
        are recorded in its ``files`` property.
        """
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("a data slice needs a non-empty name")
        kind = event_type(event)
        extra = property_dict(properties, "property", reserved=False)
        with self._logging():
            records = A.dataslice_members(
                files, self.scope.hasher, self.scope.display_path, self.scope.data.add
            )
            if not records:
                raise InvalidArgumentError(f"data slice {name!r} has no files")
            template = A.dataslice_artifact(name, records, self.scope.hasher.algorithm, extra)
            artifact = self._record_file(template, kind, [name])
            if kind in INPUT_EVENT_TYPES:
                assert template.external_id is not None
                self._inputs[f"dataslice {name}"] = template.external_id
            return artifact

    def fetch(
        self,
        artifact: Artifact | int | str,
        *,
        to: str | os.PathLike[str] | None = None,
        remote: Any = None,
        link: str = "auto",
        force: bool = False,
    ) -> Path:
        """Make the bytes of ``artifact`` (an artifact, an id or a digest, logged here or at
        another site) present at ``to`` (default: the path it was logged at, under the project
        root; for a data slice, the directory its members' paths are below, default the
        root) and record it as an input of this run. Bytes missing from the cache are pulled
        from ``remote`` (a configured remote's name, a data URL, a directory or an
        :class:`~mltrail.data.ObjectStore`; None: the only configured remote with a data end),
        verified against the digest; ``link`` and ``force`` are
        :func:`mltrail.data.checkout`'s. Returns the path."""
        from mltrail import data

        with self._logging():
            found = F.find_artifact(self.scope.store, artifact)
            wanted = absolute(to) if to is not None else None
            target, placed = F.placements(found, wanted, self.scope.root)
            cache = self.scope.data.cache
            oids = [oid for oid, _ in placed]
            if not all(cache.has(oid) for oid in oids):
                F.present(cache, oids, self.scope.data.remote_or_none(remote))
            for oid, path in placed:
                data.checkout(cache, oid, path, link=link, force=force)
            template = copy.deepcopy(found)
            template.id = None
            template.custom_properties = {}
            assert found.external_id is not None
            if isinstance(found.properties.get("slice_name"), str):
                name = f"dataslice {found.properties['slice_name']}"
                self._record_file(template, EventType.INPUT, [str(found.properties["slice_name"])])
            else:
                name = self.scope.display_path(target)
                template.properties["paths"] = [name]
                self._record_file(template, EventType.INPUT, [name])
            self._inputs[name] = found.external_id
            return target

    # ------------------------------------------------------------------------------ metrics

    def log_metrics(self, values: Mapping[str, Any], *, name: str = "metrics") -> Artifact:
        """Execution-level metrics (accuracy, AUC...), written now as one Metrics artifact whose
        custom properties hold the values. NaN and infinities are kept as strings."""
        checked = metric_values(values, name, f"metrics {name!r}")
        artifact = A.metrics_artifact(name, checked, self.scope.hasher.algorithm)
        with self._logging():
            return self._record_file(artifact, EventType.OUTPUT, [name])

    def log_metric(self, name: str, values: Any, *, step: int | None = None) -> int:
        """One step of a series: a number (keyed ``name``) or ``{key: number}``. ``step``
        defaults to the previous step + 1 (from 0). Returns the step used. The series is written
        as a StepMetrics artifact by :meth:`commit_metrics` or when the run ends."""
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("a metric series needs a non-empty name")
        checked = metric_values(values, name, f"metric {name!r}")
        if not checked:
            raise InvalidArgumentError(f"metric {name!r}: give at least one value for the step")
        with self._logging():
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = Series(self._resume_steps.get(name, 0))
            return series.add(step, checked)

    def commit_metrics(self, name: str | None = None) -> list[Artifact]:
        """Write the steps logged since the last commit of series ``name`` (all series when
        None) as StepMetrics artifacts now; later steps start a new artifact."""
        with self._logging():
            names = [name] if name is not None else list(self._series)
            if name is not None and name not in self._series:
                raise InvalidArgumentError(f"no steps were logged for metric series {name!r}")
            return self._write_series(names, None)

    def _write_series(self, names: list[str], execution: Execution | None) -> list[Artifact]:
        algorithm = self.scope.hasher.algorithm
        items = [
            (
                A.step_metrics_artifact(
                    n, self._series[n].steps, self._series[n].columns, algorithm
                ),
                [n],
            )
            for n in names
            if len(self._series[n])
        ]
        written = self._record_documents(items, execution)
        for n in names:
            series = self._series.pop(n, None)
            if series is not None:  # steps continue after a commit
                self._resume_steps[n] = series.next_step()
        return written

    def _record_documents(
        self,
        items: Sequence[tuple[Artifact, Sequence[str | int]]],
        execution: Execution | None = None,
    ) -> list[Artifact]:
        if not items and execution is None:
            return []
        keys = [(a.external_id or "", EventType.OUTPUT) for a, _ in items]
        planned = [
            (a, None if key in self._recorded else EventType.OUTPUT, path)
            for (a, path), key in zip(items, keys)
        ]
        written = self.scope.writer.record_documents(
            planned, self.scope.contexts, self.id, execution
        )
        self._recorded.update(keys)
        return written

    # ------------------------------------------------------------------------------ caching

    def fingerprint(self) -> Fingerprint:
        """The fingerprint of this run so far: its type, parameters, code version and the
        digests of the inputs logged until now."""
        return Fingerprint.of(
            str(self.execution.type),
            parameters=self._parameters,
            code_version=_text(self.execution.properties.get("code_version")),
            inputs=self._inputs,
        )

    def find_cached(self) -> CachedExecution | None:
        """An earlier COMPLETE execution with this run's fingerprint, and its outputs."""
        return self.scope.store.find_cached_execution(self.fingerprint())

    def explain_cache_miss(self) -> CacheExplanation:
        """Why no earlier execution matches this run's fingerprint."""
        return self.scope.store.explain_cache_miss(self.fingerprint())

    def use_cached(self, cached: CachedExecution) -> list[Artifact]:
        """Reuse an earlier execution's results: its outputs become this run's outputs and the
        run ends CACHED (unless it fails)."""
        with self._logging():
            items = [(a, [a.uri or a.external_id or str(a.id)]) for a in cached.outputs]
            outputs = self._record_documents(list(items))
            self._cached = cached
            return outputs


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
