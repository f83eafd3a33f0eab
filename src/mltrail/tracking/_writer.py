"""Writing artifacts with their events and context attributions, one transaction per call.

Two paths:

* file artifacts (datasets, models, labels): the stored artifact with the same digest, if any,
  is read first and the new sighting merged into it (another path, more properties); a writer
  that created the same digest in between makes the write fail on the unique external id, and it
  is retried against the now stored artifact;
* documents (metrics, step metrics, data slices): their content *is* their identity, so an
  existing artifact with the digest is reused as is (the store's reuse-by-external-id).

Every artifact written is attributed to the pipeline and the stage contexts, so an artifact
reused by another pipeline or stage belongs to that one too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mltrail.errors import AlreadyExistsError
from mltrail.model import Artifact, Context, Event, EventType, Execution
from mltrail.store import MetadataStore
from mltrail.tracking import _schema as S
from mltrail.tracking._artifacts import merge_sighting

#: How often a file artifact is re-read and written again after losing a creation race.
ATTEMPTS = 3


class ArtifactWriter:
    def __init__(self, store: MetadataStore, types: S.TypeRegistry) -> None:
        self.store = store
        self.types = types
        self._declared: dict[str, Mapping[str, Any]] = {}

    def _declared_properties(self, type_name: str | None) -> Mapping[str, Any]:
        if type_name is None:
            return {}
        known = S.ARTIFACT_TYPES.get(type_name)
        if known is not None:
            return known.properties
        if type_name not in self._declared:
            self._declared[type_name] = self.store.get_artifact_type(type_name).properties
        return self._declared[type_name]

    def record_file(
        self,
        template: Artifact,
        contexts: Sequence[Context],
        execution_id: int,
        event: EventType | None,
        event_path: Sequence[str | int],
    ) -> Artifact:
        """Create or update the artifact with ``template``'s digest, with an event when given."""
        assert template.type is not None and template.external_id is not None
        self.types.artifact(template.type)
        edges = []
        if event is not None:
            edges.append(
                (None, 0, Event(execution_id=execution_id, type=event, path=list(event_path)))
            )
        for attempt in range(ATTEMPTS):
            stored = self.store.get_artifacts_by_external_ids([template.external_id])
            if stored:
                current = stored[0]
                merged = merge_sighting(current, template, self._declared_properties(current.type))
                artifact = merged if merged is not None else current
            else:
                artifact = template
            try:
                _, [artifact_id], _ = self.store.put_lineage_subgraph(
                    [], [artifact], list(contexts), edges, reuse_context_if_already_exist=True
                )
            except AlreadyExistsError:
                if stored or attempt == ATTEMPTS - 1:
                    raise
                continue  # another writer created it meanwhile: merge into theirs
            artifact.id = artifact_id
            return artifact
        raise AssertionError("unreachable")  # pragma: no cover

    def record_documents(
        self,
        items: Sequence[tuple[Artifact, EventType | None, Sequence[str | int]]],
        contexts: Sequence[Context],
        execution_id: int,
        execution: Execution | None = None,
    ) -> list[Artifact]:
        """Record content-addressed artifacts (reused by external id), each with its event;
        ``execution`` (the run's execution, whole) is written in the same transaction."""
        for artifact, _, _ in items:
            assert artifact.type is not None
            self.types.artifact(artifact.type)
        edges: list[tuple[int | None, int | None, Event]] = []
        for index, (_, event, path) in enumerate(items):
            if event is not None:
                edges.append(
                    (
                        0 if execution is not None else None,
                        index,
                        Event(
                            execution_id=None if execution is not None else execution_id,
                            type=event,
                            path=list(path),
                        ),
                    )
                )
        _, artifact_ids, _ = self.store.put_lineage_subgraph(
            [execution] if execution is not None else [],
            [artifact for artifact, _, _ in items],
            list(contexts),
            edges,
            reuse_context_if_already_exist=True,
            reuse_artifact_if_already_exist_by_external_id=True,
        )
        out = []
        for (artifact, _, _), artifact_id in zip(items, artifact_ids):
            artifact.id = artifact_id
            out.append(artifact)
        return out
