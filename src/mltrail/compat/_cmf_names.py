"""How mltrail's records and CMF's names meet: type names, identities and the CMF view of a node.

Tracking records CMF's roles under mltrail's names (``Pipeline`` and ``Stage`` contexts,
``StepMetrics``, ``DataSlice``...); importing CMF's JSON export maps onto the same records, keeping
what only CMF has as custom properties prefixed ``cmf.`` (``cmf.Execution_uuid``,
``cmf.git_repo``, the original times...). The query facade and the JSON dump turn them back into
CMF's shape: CMF's type names, ``uri`` = the content hash, ``"path:hash"`` names, and CMF's
property names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mltrail.model import Artifact
from mltrail.tracking import _schema as S
from mltrail.tracking.hashing import ALGORITHMS

#: Custom properties of CMF's that have no place in mltrail's model: ``cmf.<CMF's name>``.
PREFIX = "cmf."
#: The times a CMF export gives a node, kept as custom properties (the store stamps its own).
CREATED = PREFIX + "create_time_since_epoch"
UPDATED = PREFIX + "last_update_time_since_epoch"
#: Every uuid of an execution (CMF appends one per reuse); its first is the external id.
EXECUTION_UUID = PREFIX + "Execution_uuid"
#: Locations of an artifact's bytes (CMF's comma-separated ``url`` property, as a list).
URL = "url"
#: Identities of artifacts CMF identifies by a uuid (metrics, validation outputs).
CMF_IDENTITY = "cmf:"
#: Identities of artifacts logged by a URL that could not be read.
URL_IDENTITY = "url:"

VALIDATION_OUTPUT = "ValidationOutput"

#: mltrail's artifact type names → CMF's (the others are the same).
TO_CMF_TYPE = {
    S.STEP_METRICS: "Step_Metrics",
    S.DATASLICE: "Dataslice",
    VALIDATION_OUTPUT: "Validation_output",
}
FROM_CMF_TYPE = {cmf: ours for ours, cmf in TO_CMF_TYPE.items()}
#: CMF's context types, for the JSON dump.
PIPELINE_TYPE = "Parent_Context"
STAGE_TYPE = "Pipeline_Stage"

#: Model properties under CMF's names.
TO_CMF_PROPERTY = {
    "framework": "model_framework",
    "model_type": "model_type",
    "model_name": "model_name",
}

#: Execution properties CMF's columns are made of (the others keep their names).
_EXECUTION_MAPPED = {"pipeline", "stage", "command", "argv", "git_commit", "git_remote"}
_EXECUTION_CONSUMED = {EXECUTION_UUID, PREFIX + "Git_End_Commit", CREATED, UPDATED}


def cmf_type(type_name: str | None) -> str:
    return TO_CMF_TYPE.get(type_name or "", type_name or "")


def digest_of(artifact: Artifact) -> str | None:
    """The hex digest of a content-identified artifact (``"md5:ab..."`` → ``"ab..."``)."""
    algorithm, sep, value = (artifact.external_id or "").partition(":")
    return value if sep and algorithm in ALGORITHMS else None


def cmf_uri(artifact: Artifact) -> str:
    """CMF's ``uri``: the content hash, the uuid of a metrics artifact, else the stored uri."""
    external = artifact.external_id or ""
    digest = digest_of(artifact)
    if digest is not None:
        return digest
    if external.startswith(CMF_IDENTITY):
        return external[len(CMF_IDENTITY) :]
    return artifact.uri or ""


def _label(artifact: Artifact) -> str:
    for key in ("path", "metrics_name", "slice_name"):
        value = artifact.properties.get(key)
        if isinstance(value, str) and value:
            return value
    return artifact.uri or (artifact.type or "artifact").lower()


def cmf_name(artifact: Artifact) -> str:
    """The artifact's name as CMF spells them: the recorded name (imported from CMF), else
    ``"<path or name>:<hash>"``."""
    if artifact.name:
        return artifact.name
    uri = cmf_uri(artifact)
    label = _label(artifact)
    return f"{label}:{uri}" if uri and uri != label else label


def time_of(node: Any, which: str) -> int | None:
    """A node's create or update time: CMF's original one when it was imported."""
    key = CREATED if which == "create" else UPDATED
    kept = node.custom_properties.get(key)
    if isinstance(kept, int):
        return kept
    value = getattr(node, f"{which}_time_since_epoch")
    return int(value) if value is not None else None


def _joined(value: Any) -> Any:
    return ",".join(map(str, value)) if isinstance(value, list) else value


def split_custom(
    custom: Mapping[str, Any], consumed: set[str], props: dict[str, Any]
) -> dict[str, Any]:
    """CMF's custom properties of a node; ``cmf.<name>`` values and ``url`` go to ``props``
    (they are properties in CMF), mltrail's own are left out."""
    out: dict[str, Any] = {}
    for key, value in custom.items():
        if key in consumed or key.startswith("mltrail."):
            continue
        if key.startswith(PREFIX):
            props.setdefault(key[len(PREFIX) :], value)
        elif key == URL:
            props[URL] = _joined(value)
        else:
            out[key] = value
    return out


def _prefixed(row: dict[str, Any], custom: Mapping[str, Any]) -> dict[str, Any]:
    """``custom_properties_<name>`` columns, ``_1``, ``_2``... on a clash, as CMF does."""
    for key, value in custom.items():
        column = f"custom_properties_{key}"
        base, index = column, 0
        while column in row:
            index += 1
            column = f"{base}_{index}"
        row[column] = value
    return row


def artifact_parts(artifact: Artifact) -> tuple[dict[str, Any], dict[str, Any]]:
    """CMF's properties and custom properties of an artifact."""
    props = {TO_CMF_PROPERTY.get(k, k): v for k, v in artifact.properties.items()}
    digest = digest_of(artifact)
    custom = split_custom(artifact.custom_properties, {CREATED, UPDATED}, props)
    if digest is not None:
        props.setdefault("Commit", digest)
    return props, custom


def artifact_row(artifact: Artifact, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One row of CMF's artifact tables (``get_artifact_df``)."""
    row: dict[str, Any] = dict(extra or {})
    row.update(
        id=artifact.id,
        type=cmf_type(artifact.type),
        uri=cmf_uri(artifact),
        name=cmf_name(artifact),
        create_time_since_epoch=time_of(artifact, "create"),
        last_update_time_since_epoch=time_of(artifact, "last_update"),
    )
    props, custom = artifact_parts(artifact)
    for key, value in props.items():
        row.setdefault(key, value)
    return _prefixed(row, custom)


def execution_uuid(execution: Any) -> str:
    kept = execution.custom_properties.get(EXECUTION_UUID)
    return kept if isinstance(kept, str) and kept else str(execution.external_id or "")


def stage_name(execution: Any) -> str:
    pipeline, stage = execution.properties.get("pipeline"), execution.properties.get("stage")
    if isinstance(pipeline, str) and isinstance(stage, str):
        return f"{pipeline}/{stage}"
    return ""


def execution_parts(
    execution: Any, context_ids: Mapping[tuple[str, str], int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """CMF's properties of an execution (``Context_Type``, ``Execution``, ``Execution_uuid``,
    ``Git_Start_Commit``..., then mltrail's other properties) and its custom properties (the
    parameters). ``context_ids`` maps (type, name) of pipeline and stage contexts to ids."""
    given = execution.properties
    stage = stage_name(execution)
    pipeline = given.get("pipeline") if isinstance(given.get("pipeline"), str) else ""
    end = execution.custom_properties.get(PREFIX + "Git_End_Commit")
    props: dict[str, Any] = {
        "Context_Type": stage,
        "Context_ID": context_ids.get((S.STAGE, stage)),
        "Execution": given.get("command", ""),
        "Execution_type_name": stage,
        "Execution_uuid": execution_uuid(execution),
        "Git_Repo": given.get("git_remote", ""),
        "Git_Start_Commit": given.get("git_commit", ""),
        "Git_End_Commit": end if isinstance(end, str) else "",
        "Pipeline_Type": pipeline,
        "Pipeline_id": context_ids.get((S.PIPELINE, str(pipeline))),
    }
    for key, value in given.items():
        if key not in _EXECUTION_MAPPED:
            props.setdefault(key, value)
    custom = split_custom(execution.custom_properties, _EXECUTION_CONSUMED, props)
    return props, custom


def execution_row(execution: Any, context_ids: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """One row of CMF's execution tables: ``id``, ``name``, CMF's properties, then
    ``custom_properties_<name>`` for the parameters."""
    row: dict[str, Any] = {"id": execution.id, "name": execution.name or ""}
    props, custom = execution_parts(execution, context_ids)
    for key, value in props.items():
        row.setdefault(key, value)
    return _prefixed(row, custom)


def quoted(text: str) -> str:
    """``text`` as a string literal of the filter language."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def newest_slice(store: Any, name: str) -> Artifact | None:
    """The newest data slice named ``name`` (each update of a slice is a new artifact)."""
    found = store.get_artifacts_by_type(
        S.DATASLICE,
        filter_query=f"properties.slice_name = {quoted(name)}",
        order_by="id",
        ascending=False,
        limit=1,
    )
    return found[0] if found else None
