"""Pipelines as CMF's JSON export (``CmfQuery.dumptojson``), read with set-based store calls.

The shape is what ``cmf metadata export`` writes (``{"Pipeline": [...]}``, stages under a
pipeline, executions under a stage, events under an execution, each event with its artifact),
with CMF's type and property names (see :mod:`mltrail.compat._cmf_names`). Reads: the stages of
a pipeline, the executions of each stage, then the events, artifacts and types of all of them at
once, whatever their number.
"""

from __future__ import annotations

from typing import Any

from mltrail.compat import _cmf_names as N
from mltrail.model import Artifact, Context, Execution
from mltrail.store import MetadataStore
from mltrail.tracking import _schema as S


def _custom(values: dict[str, Any]) -> dict[str, Any]:
    """CMF renames a custom property called ``type`` (it would shadow the node's type)."""
    return {("user_type" if k == "type" else k): v for k, v in values.items()}


def _times(node: Any) -> dict[str, Any]:
    return {
        "create_time_since_epoch": N.time_of(node, "create"),
        "last_update_time_since_epoch": N.time_of(node, "last_update"),
    }


def _context(context: Context, cmf_type: str, key: str, type_id: int | None) -> dict[str, Any]:
    props: dict[str, Any] = {key: context.name}
    custom = N.split_custom(context.custom_properties, {N.CREATED, N.UPDATED}, props)
    return {
        "id": context.id,
        "name": context.name,
        "type": cmf_type,
        "type_id": type_id,
        "properties": props,
        "custom_properties": _custom(custom),
        **_times(context),
    }


def _artifact(artifact: Artifact, type_ids: dict[str, int]) -> dict[str, Any]:
    props, custom = N.artifact_parts(artifact)
    return {
        "id": artifact.id,
        "type": N.cmf_type(artifact.type),
        "type_id": type_ids.get(artifact.type or ""),
        "name": N.cmf_name(artifact),
        "uri": N.cmf_uri(artifact),
        "properties": props,
        "custom_properties": _custom(custom),
        **_times(artifact),
    }


def _execution(
    execution: Execution,
    context_ids: dict[tuple[str, str], int],
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    props, custom = N.execution_parts(execution, context_ids)
    return {
        "id": execution.id,
        "type": execution.type,
        "type_id": execution.type_id,
        "name": execution.name or "",
        "properties": props,
        "custom_properties": _custom(custom),
        **_times(execution),
        "events": events,
    }


def dump_pipelines(
    store: MetadataStore,
    pipelines: list[Context],
    exec_uuid: str | None,
    *,
    since: int | None = None,
) -> list[dict[str, Any]]:
    """CMF's records of ``pipelines``; ``exec_uuid`` keeps only that execution, ``since``
    (ms) only what changed after it."""
    if not pipelines:
        return []
    context_types = {t.name: t.id for t in store.get_context_types()}
    artifact_type_ids = {t.name: t.id or 0 for t in store.get_artifact_types()}
    plans = []
    executions: dict[int, Execution] = {}
    children = store.get_children_contexts_by_contexts([p.id or 0 for p in pipelines])
    for pipeline in pipelines:
        assert pipeline.id is not None
        stages = [c for c in children.get(pipeline.id, []) if c.type == S.STAGE]
        # The pipeline's executions and their stages, in one statement (not one per stage).
        dag = store.get_context_dag(pipeline.id)
        in_stage: dict[int, list[int]] = {}
        for link in dag.associations:
            in_stage.setdefault(link.context_id, []).append(link.execution_id)
        by_id = {e.id: e for e in dag.executions}
        by_stage = []
        for stage in stages:
            chosen = [
                e
                for e in (
                    by_id[i] for i in sorted(set(in_stage.get(stage.id or 0, []))) if i in by_id
                )
                if (exec_uuid is None or exec_uuid in N.execution_uuid(e).split(","))
                and (since is None or (N.time_of(e, "last_update") or 0) > since)
            ]
            executions.update((e.id or 0, e) for e in chosen)
            by_stage.append((stage, chosen))
        plans.append((pipeline, by_stage))

    events = store.get_events_by_execution_ids(sorted(executions)) if executions else []
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id or 0 for e in events])}
    events_of: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        artifact = artifacts.get(event.artifact_id)
        if artifact is None or event.type is None:
            continue
        record = {"type": int(event.type), "artifact": _artifact(artifact, artifact_type_ids)}
        events_of.setdefault(event.execution_id or 0, []).append(record)

    out = []
    for pipeline, by_stage in plans:
        context_ids = {(S.PIPELINE, pipeline.name or ""): pipeline.id or 0}
        context_ids.update({(S.STAGE, s.name or ""): s.id or 0 for s, _ in by_stage})
        stages_out = []
        for stage, chosen in by_stage:
            if since is not None and not chosen and (N.time_of(stage, "last_update") or 0) <= since:
                continue
            if exec_uuid is not None and not chosen:
                continue
            record = _context(stage, N.STAGE_TYPE, "Pipeline_Stage", context_types.get(S.STAGE))
            record["executions"] = [
                _execution(e, context_ids, events_of.get(e.id or 0, [])) for e in chosen
            ]
            stages_out.append(record)
        if (
            since is not None
            and not stages_out
            and (N.time_of(pipeline, "last_update") or 0) <= since
        ):
            continue
        record = _context(pipeline, N.PIPELINE_TYPE, "Pipeline", context_types.get(S.PIPELINE))
        record["stages"] = stages_out
        out.append(record)
    return out
