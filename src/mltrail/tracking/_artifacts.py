"""Building the artifacts tracking records, and merging a new sighting into a stored artifact.

Every artifact is identified by its content, recorded as its ``external_id``: a file's or a
directory's digest, or the digest of a canonical JSON document for metrics, step metrics, data
slices and environments. The store's unique external ids make the database itself deduplicate.
Artifacts have no ``name`` (names are unique per type, and one path may hold many versions); a
file artifact's ``uri`` is the path it was first logged at, and ``paths`` lists every path.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from mltrail._project import absolute
from mltrail.model import Artifact, ArtifactState, PropertyValue
from mltrail.tracking import _schema as S
from mltrail.tracking._values import property_dict
from mltrail.tracking.environment import Environment
from mltrail.tracking.hashing import ContentDigest, Hasher, digest_document

#: List properties that collect every value seen rather than keep the first.
ACCUMULATING = ("paths", "datasets")


def file_artifact(
    type_name: str,
    digest: ContentDigest,
    path: str,
    properties: Mapping[str, PropertyValue] | None = None,
    custom_properties: Mapping[str, PropertyValue] | None = None,
) -> Artifact:
    """A file or directory artifact seen at ``path`` (project-relative POSIX path)."""
    return Artifact(
        type=type_name,
        uri=path,
        external_id=digest.external_id,
        state=ArtifactState.LIVE,
        properties={
            "path": path,
            "paths": [path],
            "size": digest.size,
            "algorithm": digest.algorithm,
            "kind": "directory" if digest.is_directory else "file",
            "file_count": digest.file_count,
            **(properties or {}),
        },
        custom_properties=dict(custom_properties or {}),
    )


def metrics_artifact(
    name: str, values: Mapping[str, int | float | str], algorithm: str = "sha256"
) -> Artifact:
    """Execution-level metrics: the values are custom properties (typed, filterable)."""
    document = {"kind": "metrics", "name": name, "values": dict(values)}
    return Artifact(
        type=S.METRICS,
        external_id=digest_document(document, algorithm),
        state=ArtifactState.LIVE,
        properties={"metrics_name": name},
        custom_properties=dict(values),
    )


def step_metrics_artifact(
    name: str, steps: list[int], columns: Mapping[str, list[float | int | None]], algorithm: str
) -> Artifact:
    """A series of values per step: ``series = {"steps": [...], "values": {key: [...]}}``, plus
    ``<key>_last``, ``<key>_min`` and ``<key>_max`` custom properties to filter on."""
    series = {"steps": list(steps), "values": {k: list(v) for k, v in columns.items()}}
    document = {"kind": "step_metrics", "name": name, **series}
    summary: dict[str, PropertyValue] = {}
    for key, values in columns.items():
        present = [v for v in values if v is not None]
        if present:
            summary[f"{key}_last"] = present[-1]
            summary[f"{key}_min"] = min(present)
            summary[f"{key}_max"] = max(present)
    return Artifact(
        type=S.STEP_METRICS,
        external_id=digest_document(document, algorithm),
        state=ArtifactState.LIVE,
        properties={"metrics_name": name, "series": series, "num_steps": len(steps)},
        custom_properties=summary,
    )


def dataslice_artifact(
    name: str,
    files: list[dict[str, Any]],
    algorithm: str,
    custom_properties: Mapping[str, PropertyValue] | None = None,
) -> Artifact:
    """A named set of files (``files``: path, digest, size and properties of each, by path)."""
    ordered = sorted(files, key=lambda f: str(f["path"]))
    document = {"kind": "dataslice", "name": name, "files": ordered}
    return Artifact(
        type=S.DATASLICE,
        external_id=digest_document(document, algorithm),
        state=ArtifactState.LIVE,
        properties={
            "slice_name": name,
            "files": ordered,
            "file_count": len(ordered),
            "size": sum(int(f["size"]) for f in ordered),
            "algorithm": algorithm,
        },
        custom_properties=dict(custom_properties or {}),
    )


def dataslice_members(
    files: Mapping[Any, Mapping[str, Any] | None] | Iterable[Any],
    hasher: Hasher,
    display: Callable[[Path], str],
    seen: Callable[[Path, ContentDigest], None] | None = None,
) -> list[dict[str, Any]]:
    """Member records of a data slice; ``files`` is a list of paths or ``{path: properties}``.
    ``seen`` is called with each member's path and digest (to put its bytes in the cache)."""
    members = files.items() if isinstance(files, Mapping) else ((f, None) for f in files)
    records = []
    for path, props in members:
        target = absolute(path)
        digest = hasher.digest(target)
        if seen is not None:
            seen(target, digest)
        records.append(
            {
                "path": display(target),
                "digest": digest.external_id,
                "size": digest.size,
                "properties": property_dict(props, "file property", reserved=False),
            }
        )
    return records


def environment_artifact(environment: Environment) -> Artifact:
    return Artifact(
        type=S.ENVIRONMENT,
        external_id=environment.digest,
        state=ArtifactState.LIVE,
        properties={
            "implementation": environment.implementation,
            "python_version": environment.python_version,
            "system": environment.system,
            "machine": environment.machine,
            "packages": dict(environment.packages),
            "package_count": len(environment.packages),
        },
    )


def merge_sighting(
    stored: Artifact, new: Artifact, stored_type_properties: Mapping[str, Any]
) -> Artifact | None:
    """``stored`` updated with a new sighting of the same content, or None when nothing changes.

    The new path joins ``paths``; properties the stored artifact lacks are filled in (existing
    ones are kept: the first log wins); custom properties are merged, newest values winning.
    When the content was first logged as another type (a file logged as a Dataset, then as a
    Model), the artifact keeps its type, and the new role's properties that its type does not
    declare become custom properties.
    """
    merged = copy.deepcopy(stored)
    changed = False
    for key in ACCUMULATING:
        before, extra = merged.properties.get(key), new.properties.get(key)
        if isinstance(extra, list) and isinstance(before, list):
            for item in extra:
                if item not in before:
                    before.append(item)
                    changed = True
    for key, value in new.properties.items():
        if key == "path" or (key in ACCUMULATING and key in merged.properties):
            continue
        if key in stored_type_properties:
            if key not in merged.properties:
                merged.properties[key] = value
                changed = True
        elif key not in merged.custom_properties:
            merged.custom_properties[key] = value
            changed = True
    for key, value in new.custom_properties.items():
        old = merged.custom_properties.get(key)
        if key not in merged.custom_properties or type(old) is not type(value) or old != value:
            merged.custom_properties[key] = value
            changed = True
    return merged if changed else None
