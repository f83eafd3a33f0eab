"""mltrail: record the metadata of machine-learning work and answer questions about its lineage.

>>> import mltrail
>>> store = mltrail.connect()  # in-memory SQLite; mltrail.connect("sqlite:///ml.db") for a file
>>> rows = {"rows": mltrail.PropertyType.INT}
>>> dataset = store.put_artifact_type(mltrail.ArtifactType(name="Dataset", properties=rows))
"""

from mltrail import errors
from mltrail._connect import connect
from mltrail.model import (
    Artifact,
    ArtifactBaseType,
    ArtifactState,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionBaseType,
    ExecutionState,
    ExecutionType,
    LineageGraph,
    ListOptions,
    OrderByField,
    ParentContext,
    PropertyType,
    ResultPage,
)
from mltrail.store import MetadataStore

__version__ = "0.1.0"

__all__ = [
    "Artifact",
    "ArtifactBaseType",
    "ArtifactState",
    "ArtifactType",
    "Association",
    "Attribution",
    "Context",
    "ContextType",
    "Event",
    "EventType",
    "Execution",
    "ExecutionBaseType",
    "ExecutionState",
    "ExecutionType",
    "LineageGraph",
    "ListOptions",
    "MetadataStore",
    "OrderByField",
    "ParentContext",
    "PropertyType",
    "ResultPage",
    "__version__",
    "connect",
    "errors",
]
