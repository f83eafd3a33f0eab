"""The types tracking records: their names and declared properties, registered on first use.

Types evolve add-only in the store; tracking registers its types with ``can_add_fields`` and
``can_omit_fields`` so that a type a user extended (or an older mltrail declared) is kept and
completed, never refused.
"""

from __future__ import annotations

import threading

from mltrail.model import ArtifactBaseType, ArtifactType, ContextType, ExecutionType
from mltrail.model import PropertyType as P
from mltrail.store import MetadataStore

PIPELINE = "Pipeline"
STAGE = "Stage"
DATASET = "Dataset"
MODEL = "Model"
LABEL = "Label"
METRICS = "Metrics"
STEP_METRICS = "StepMetrics"
DATASLICE = "DataSlice"
ENVIRONMENT = "Environment"

#: Properties of every artifact identified by the content of a file or a directory.
FILE_PROPERTIES = {
    "path": P.STRING,  # the path it was first logged at (also its uri)
    "paths": P.STRUCT,  # every path it was logged at, in order
    "size": P.INT,  # bytes (all files of a directory)
    "algorithm": P.STRING,  # "sha256" or "md5"
    "kind": P.STRING,  # "file" or "directory"
    "file_count": P.INT,
}

CONTEXT_TYPES = {
    PIPELINE: ContextType(name=PIPELINE, description="A pipeline (mltrail.Tracker)."),
    STAGE: ContextType(
        name=STAGE,
        properties={"pipeline": P.STRING, "stage": P.STRING},
        description="A stage of a pipeline; a child context of the pipeline.",
    ),
}

ARTIFACT_TYPES = {
    DATASET: ArtifactType(
        name=DATASET, properties=dict(FILE_PROPERTIES), base_type=ArtifactBaseType.DATASET
    ),
    MODEL: ArtifactType(
        name=MODEL,
        properties={
            **FILE_PROPERTIES,
            "framework": P.STRING,
            "model_type": P.STRING,
            "model_name": P.STRING,
        },
        base_type=ArtifactBaseType.MODEL,
    ),
    LABEL: ArtifactType(
        name=LABEL,
        properties={**FILE_PROPERTIES, "datasets": P.STRUCT},  # external ids of labelled data
    ),
    METRICS: ArtifactType(
        name=METRICS, properties={"metrics_name": P.STRING}, base_type=ArtifactBaseType.METRICS
    ),
    STEP_METRICS: ArtifactType(
        name=STEP_METRICS,
        properties={"metrics_name": P.STRING, "series": P.STRUCT, "num_steps": P.INT},
        base_type=ArtifactBaseType.METRICS,
    ),
    DATASLICE: ArtifactType(
        name=DATASLICE,
        properties={
            "slice_name": P.STRING,
            "files": P.STRUCT,
            "file_count": P.INT,
            "size": P.INT,
            "algorithm": P.STRING,
        },
        base_type=ArtifactBaseType.DATASET,
    ),
    ENVIRONMENT: ArtifactType(
        name=ENVIRONMENT,
        properties={
            "implementation": P.STRING,
            "python_version": P.STRING,
            "system": P.STRING,
            "machine": P.STRING,
            "packages": P.STRUCT,
            "package_count": P.INT,
        },
    ),
}

#: Declared properties of every execution type tracking records.
EXECUTION_PROPERTIES = {
    "pipeline": P.STRING,
    "stage": P.STRING,
    "command": P.STRING,  # the command line, shell-quoted
    "argv": P.STRUCT,
    "start_time": P.INT,  # ms since the epoch
    "end_time": P.INT,
    "hostname": P.STRING,
    "git_commit": P.STRING,
    "git_branch": P.STRING,
    "git_remote": P.STRING,
    "git_dirty": P.BOOLEAN,
    "git_diff_digest": P.STRING,
    "code_version": P.STRING,
    "error_type": P.STRING,
    "error_message": P.STRING,
}


class TypeRegistry:
    """Registers each type once per store connection, on first use."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store
        self._done: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def context(self, name: str) -> str:
        return self._ensure("context", name)

    def artifact(self, name: str) -> str:
        return self._ensure("artifact", name)

    def execution(self, name: str) -> str:
        return self._ensure("execution", name)

    def _ensure(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key in self._done:
            return name
        with self._lock:
            if key not in self._done:
                if kind == "context":
                    self._store.put_context_type(
                        CONTEXT_TYPES[name], can_add_fields=True, can_omit_fields=True
                    )
                elif kind == "artifact":
                    self._store.put_artifact_type(
                        ARTIFACT_TYPES[name], can_add_fields=True, can_omit_fields=True
                    )
                else:
                    self._store.put_execution_type(
                        ExecutionType(name=name, properties=dict(EXECUTION_PROPERTIES)),
                        can_add_fields=True,
                        can_omit_fields=True,
                    )
                self._done.add(key)
        return name
