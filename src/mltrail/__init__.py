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
    EndingNodes,
    Event,
    EventType,
    Execution,
    ExecutionBaseType,
    ExecutionState,
    ExecutionType,
    LineageDirection,
    LineageGraph,
    LineageSubgraphQueryOptions,
    ListOptions,
    OrderByField,
    ParentContext,
    PropertyType,
    ResultPage,
    StartingNodes,
    to_dict,
)
from mltrail.query.fingerprint import Fingerprint
from mltrail.store import MetadataStore
from mltrail.tracking import Tracker

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
    "EndingNodes",
    "Event",
    "EventType",
    "Execution",
    "ExecutionBaseType",
    "ExecutionState",
    "ExecutionType",
    "Fingerprint",
    "LineageDirection",
    "LineageGraph",
    "LineageSubgraphQueryOptions",
    "ListOptions",
    "MetadataStore",
    "OrderByField",
    "ParentContext",
    "PropertyType",
    "ResultPage",
    "StartingNodes",
    "Tracker",
    "__version__",
    "connect",
    "errors",
    "to_dict",
]
