"""mltrail: record the metadata of machine-learning work and answer questions about its lineage.

>>> import mltrail
>>> store = mltrail.connect()  # in-memory SQLite; mltrail.connect("sqlite:///ml.db") for a file
>>> rows = {"rows": mltrail.PropertyType.INT}
>>> dataset = store.put_artifact_type(mltrail.ArtifactType(name="Dataset", properties=rows))

``import mltrail`` is light: the store and the tracking API, with the libraries behind them
(SQLAlchemy, Alembic, Lark), are imported when first used, so that scripts and command lines
that only need a part of mltrail start fast.
"""

import importlib as _importlib
import typing as _typing

from mltrail import errors
from mltrail._connect import MigrationPlan, connect, migrate
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

if _typing.TYPE_CHECKING:
    from mltrail.query.fingerprint import Fingerprint
    from mltrail.store import MetadataStore
    from mltrail.tracking import Tracker

__version__ = "0.1.0"

#: Public names imported on first use, and the modules they come from.
_LAZY = {
    "Fingerprint": "mltrail.query.fingerprint",
    "MetadataStore": "mltrail.store",
    "Tracker": "mltrail.tracking",
}

if not _typing.TYPE_CHECKING:  # type checkers see the imports above, and no catch-all

    def __getattr__(name: str) -> object:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(_importlib.import_module(module), name)
        globals()[name] = value  # the next lookup is an ordinary one
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})


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
    "MigrationPlan",
    "OrderByField",
    "ParentContext",
    "PropertyType",
    "ResultPage",
    "StartingNodes",
    "Tracker",
    "__version__",
    "connect",
    "errors",
    "migrate",
    "to_dict",
]
