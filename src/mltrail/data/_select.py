"""Which objects a store's artifacts are: choosing artifacts, and reading their digests.

An artifact has bytes when its ``external_id`` is an object id (``sha256:<hex>``,
``md5:<hex>.dir``...) and its ``properties["kind"]`` is ``"file"`` or ``"directory"``; a data
slice lists its member files with their digests in ``properties["files"]``, and those are objects
too. Nothing here depends on tracking: the properties are read as recorded.

Artifacts are chosen in set-based reads: by ids and external ids (one statement each), by a
context (its DAG's artifact ids in one statement, then the artifacts by id), or all of them
(paged, a page per statement), never a query per artifact or per context.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mltrail.data._oid import Oid
from mltrail.errors import InvalidArgumentError, NotFoundError
from mltrail.model import Artifact, Context

__all__ = ["Holding", "artifact_objects", "select_artifacts"]

#: Artifacts whose external id may name an object (the only ones read when all are asked for).
_OBJECT_FILTER = "external_id LIKE 'sha256:%' OR external_id LIKE 'md5:%'"


@dataclass(frozen=True)
class Holding:
    """One object an artifact's bytes consist of, and the paths it was recorded at."""

    artifact: Artifact
    oid: Oid
    paths: tuple[str, ...]

    @property
    def label(self) -> str:
        """How messages name the artifact: its id, type and first path."""
        where = self.paths[0] if self.paths else str(self.oid)
        return f"artifact {self.artifact.id} ({self.artifact.type} {where})"


def _paths(value: Any, *fallbacks: Any) -> tuple[str, ...]:
    found: list[str] = []
    for candidate in (value, *fallbacks):
        items = candidate if isinstance(candidate, list) else [candidate]
        found.extend(p for p in items if isinstance(p, str) and p and p not in found)
    return tuple(found)


def _parse(text: Any) -> Oid | None:
    if not isinstance(text, str):
        return None
    try:
        return Oid.parse(text)
    except InvalidArgumentError:
        return None


def artifact_objects(artifact: Artifact) -> list[Holding]:
    """The objects of one artifact: its own file or directory, and a data slice's members."""
    props = artifact.properties
    found: list[Holding] = []
    kind = props.get("kind")
    if kind in ("file", "directory"):
        oid = _parse(artifact.external_id)
        if oid is not None and oid.is_dir == (kind == "directory"):
            found.append(Holding(artifact, oid, _paths(props.get("paths"), props.get("path"))))
    members = props.get("files")
    if isinstance(members, list):
        for member in members:
            if isinstance(member, Mapping):
                oid = _parse(member.get("digest"))
                if oid is not None:
                    found.append(Holding(artifact, oid, _paths(member.get("path"))))
    return found


def holdings(artifacts: Iterable[Artifact]) -> list[Holding]:
    """The objects of many artifacts, in artifact order."""
    return [holding for artifact in artifacts for holding in artifact_objects(artifact)]


def select_artifacts(
    store: Any,
    artifacts: Sequence[Artifact | int | str] | None = None,
    context: Context | int | str | None = None,
) -> Iterator[Artifact]:
    """The artifacts chosen by ``artifacts`` (artifacts, ids or external ids) and/or
    ``context`` (a Context, an id or a name: the artifacts of its DAG, child contexts
    included); neither: every artifact that may have bytes. NotFoundError for an id or external
    id the store does not have."""
    if artifacts is None and context is None:
        yield from store.iter_artifacts(filter_query=_OBJECT_FILTER)
        return
    seen: set[int | None] = set()
    if artifacts is not None:
        for artifact in _by_reference(store, artifacts):
            if artifact.id not in seen:
                seen.add(artifact.id)
                yield artifact
    if context is not None:
        for artifact in _by_context(store, context):
            if artifact.id not in seen:
                seen.add(artifact.id)
                yield artifact


def _by_reference(store: Any, references: Sequence[Artifact | int | str]) -> list[Artifact]:
    if isinstance(references, (str, int, Artifact)):
        references = [references]
    given = [ref for ref in references if isinstance(ref, Artifact) and ref.id is not None]
    ids: list[int] = [ref for ref in references if isinstance(ref, int) and type(ref) is int]
    external = [ref for ref in references if isinstance(ref, str)]
    other: list[object] = [
        ref for ref in references if not isinstance(ref, (str, Artifact)) and type(ref) is not int
    ]
    other += [ref for ref in references if isinstance(ref, Artifact) and ref.id is None]
    if other:
        raise InvalidArgumentError(
            f"choose artifacts by stored Artifact, id or external id, got {other[0]!r}"
        )
    found = list(given)
    if ids:
        by_id = store.get_artifacts_by_id(ids)
        lacking = sorted(set(ids) - {a.id for a in by_id})
        if lacking:
            raise NotFoundError(f"no artifact with id {lacking[0]} (of {len(lacking)} missing)")
        found += by_id
    if external:
        by_external = store.get_artifacts_by_external_ids(external)
        lacking_ext = sorted(set(external) - {a.external_id for a in by_external})
        if lacking_ext:
            raise NotFoundError(f"no artifact with external id {lacking_ext[0]!r}")
        found += by_external
    return found


def _by_context(store: Any, context: Context | int | str) -> list[Artifact]:
    context_id = _context_id(store, context)
    database = getattr(store, "database", None)
    if database is not None and hasattr(database, "run"):
        from mltrail.store._questions import context_dag_ids

        _, artifact_ids, _ = database.run(
            lambda conn: context_dag_ids(conn, context_id, True), write=False
        )
        return store.get_artifacts_by_id(sorted(artifact_ids)) if artifact_ids else []
    return list(store.get_context_dag(context_id).artifacts)


def _context_id(store: Any, context: Context | int | str) -> int:
    if isinstance(context, Context):
        if context.id is None:
            raise InvalidArgumentError("the context has no id: give a stored context")
        return context.id
    if type(context) is int:
        if not store.get_contexts_by_id([context]):
            raise NotFoundError(f"no context with id {context}")
        return context
    if isinstance(context, str):
        escaped = context.replace("\\", "\\\\").replace("'", "\\'")
        found = list(store.get_contexts(filter_query=f"name = '{escaped}'"))
        if not found:
            raise NotFoundError(f"no context named {context!r}; give its name or id")
        if len(found) > 1:
            types = sorted(str(c.type) for c in found)
            raise InvalidArgumentError(
                f"{len(found)} contexts are named {context!r} (types {types}); give the id"
            )
        return int(found[0].id)
    raise InvalidArgumentError(f"a context is chosen by a Context, id or name, got {context!r}")
