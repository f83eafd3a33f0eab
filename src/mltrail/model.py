"""The metadata model: plain data classes and enums.

The model is MLMD's: artifact, execution and context *types* declare typed properties; artifacts,
executions and contexts carry values for them (``properties``) and free-form ``custom_properties``;
events link artifacts to executions, attributions and associations put nodes into contexts and
parent contexts arrange contexts in a DAG.

Property values are plain Python values: ``int``, ``float``, ``str``, ``bool`` and JSON-like
``dict``/``list`` (``PropertyType.STRUCT``). Times are milliseconds since the Unix epoch and are set
by the store; values given by the caller are ignored.
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

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
    "LineageDirection",
    "LineageGraph",
    "LineageSubgraphQueryOptions",
    "ListOptions",
    "OrderByField",
    "ParentContext",
    "PropertyType",
    "PropertyValue",
    "ResultPage",
    "StartingNodes",
    "to_dict",
]

PropertyValue = int | float | str | bool | dict[str, Any] | list[Any]
"""A property value: ``int``, ``float``, ``str``, ``bool`` or a JSON-like ``dict``/``list``."""


class _Named(enum.IntEnum):
    """An ``IntEnum`` that prints as its name.

    ``str(ExecutionState.FAILED)``, ``f"{state}"`` and ``format(state, ">8")`` give ``"FAILED"``;
    a numeric format (``f"{state:d}"``) gives the number. Members still compare equal to their
    numbers (``ExecutionState.FAILED == 4``), as MLMD's enums do.
    """

    def __str__(self) -> str:
        return self.name

    def __format__(self, format_spec: str) -> str:
        try:
            return format(self.name, format_spec)
        except ValueError:
            return int.__format__(self, format_spec)


E = TypeVar("E", bound=enum.IntEnum)


def _member(cls: type[E], value: Any) -> Any:
    """``value`` as a member of ``cls`` when it is a member's name (any case) or number; any
    other value is kept as given, for the store to refuse with a message saying where it is."""
    if value is None or type(value) is cls:
        return value
    if isinstance(value, str):
        return cls.__members__.get(value.upper(), value)
    if isinstance(value, int) and not isinstance(value, (bool, enum.Enum)):
        try:
            return cls(value)
        except ValueError:
            return value
    return value


def _members(cls: type[E], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with each value made a member of ``cls`` (a new dict only when one changed)."""
    converted = {key: _member(cls, value) for key, value in values.items()}
    changed = any(converted[k] is not v for k, v in values.items())
    return converted if changed else values


class PropertyType(_Named):
    """The declared type of a property. Numbers match MLMD's ``PropertyType``."""

    UNKNOWN = 0
    INT = 1
    DOUBLE = 2
    STRING = 3
    STRUCT = 4
    BOOLEAN = 6


class ArtifactState(_Named):
    """Lifecycle state of an artifact (MLMD's ``Artifact.State``)."""

    UNKNOWN = 0
    PENDING = 1
    LIVE = 2
    MARKED_FOR_DELETION = 3
    DELETED = 4
    ABANDONED = 5
    REFERENCE = 6


class ExecutionState(_Named):
    """Last known state of an execution (MLMD's ``Execution.State``)."""

    UNKNOWN = 0
    NEW = 1
    RUNNING = 2
    COMPLETE = 3
    FAILED = 4
    CACHED = 5
    CANCELED = 6


class EventType(_Named):
    """How an artifact relates to an execution (MLMD's ``Event.Type``)."""

    UNKNOWN = 0
    DECLARED_OUTPUT = 1
    DECLARED_INPUT = 2
    INPUT = 3
    OUTPUT = 4
    INTERNAL_INPUT = 5
    INTERNAL_OUTPUT = 6
    PENDING_OUTPUT = 7


INPUT_EVENT_TYPES = frozenset({EventType.DECLARED_INPUT, EventType.INPUT, EventType.INTERNAL_INPUT})
OUTPUT_EVENT_TYPES = frozenset(
    {
        EventType.DECLARED_OUTPUT,
        EventType.OUTPUT,
        EventType.INTERNAL_OUTPUT,
        EventType.PENDING_OUTPUT,
    }
)


class ArtifactBaseType(_Named):
    """System-defined base types an artifact type may extend."""

    DATASET = 1
    MODEL = 2
    METRICS = 3
    STATISTICS = 4


class ExecutionBaseType(_Named):
    """System-defined base types an execution type may extend."""

    TRAIN = 1
    TRANSFORM = 2
    PROCESS = 3
    EVALUATE = 4
    DEPLOY = 5


# ------------------------------------------------------------------------------------------- types


@dataclass(kw_only=True)
class ArtifactType:
    """An artifact type: a name, an optional version and the properties its artifacts may carry.

    Identity is (name, version); ``version=None`` and ``version=""`` are the same unversioned type.
    """

    name: str
    properties: dict[str, PropertyType] = field(default_factory=dict)
    version: str | None = None
    description: str | None = None
    external_id: str | None = None
    base_type: ArtifactBaseType | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.properties, dict):
            self.properties = _members(PropertyType, self.properties)
        self.base_type = _member(ArtifactBaseType, self.base_type)

    BaseType: ClassVar[builtins.type[ArtifactBaseType]] = ArtifactBaseType


@dataclass(kw_only=True)
class ExecutionType:
    """An execution type (a component, a step, a trainer...). See :class:`ArtifactType`."""

    name: str
    properties: dict[str, PropertyType] = field(default_factory=dict)
    version: str | None = None
    description: str | None = None
    external_id: str | None = None
    base_type: ExecutionBaseType | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.properties, dict):
            self.properties = _members(PropertyType, self.properties)
        self.base_type = _member(ExecutionBaseType, self.base_type)

    BaseType: ClassVar[builtins.type[ExecutionBaseType]] = ExecutionBaseType


@dataclass(kw_only=True)
class ContextType:
    """A context type (a pipeline, a run, an experiment...). See :class:`ArtifactType`."""

    name: str
    properties: dict[str, PropertyType] = field(default_factory=dict)
    version: str | None = None
    description: str | None = None
    external_id: str | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.properties, dict):
            self.properties = _members(PropertyType, self.properties)


# ------------------------------------------------------------------------------------------- nodes


@dataclass(kw_only=True)
class Artifact:
    """A piece of data: a dataset, a model, a metrics file...

    Give ``type_id`` or ``type`` (the type's name) when creating. ``id`` set means "update".
    """

    type_id: int | None = None
    type: str | None = None
    uri: str | None = None
    name: str | None = None
    state: ArtifactState | None = None
    external_id: str | None = None
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    custom_properties: dict[str, PropertyValue] = field(default_factory=dict)
    id: int | None = None
    create_time_since_epoch: int | None = None
    last_update_time_since_epoch: int | None = None

    State: ClassVar[builtins.type[ArtifactState]] = ArtifactState

    def __post_init__(self) -> None:
        self.state = _member(ArtifactState, self.state)


@dataclass(kw_only=True)
class Execution:
    """A run of a component: a training, a transformation, an evaluation..."""

    type_id: int | None = None
    type: str | None = None
    name: str | None = None
    last_known_state: ExecutionState | None = None
    external_id: str | None = None
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    custom_properties: dict[str, PropertyValue] = field(default_factory=dict)
    id: int | None = None
    create_time_since_epoch: int | None = None
    last_update_time_since_epoch: int | None = None

    State: ClassVar[builtins.type[ExecutionState]] = ExecutionState

    def __post_init__(self) -> None:
        self.last_known_state = _member(ExecutionState, self.last_known_state)


@dataclass(kw_only=True)
class Context:
    """A group of artifacts and executions (a pipeline, a run...). ``name`` is required."""

    type_id: int | None = None
    type: str | None = None
    name: str | None = None
    external_id: str | None = None
    properties: dict[str, PropertyValue] = field(default_factory=dict)
    custom_properties: dict[str, PropertyValue] = field(default_factory=dict)
    id: int | None = None
    create_time_since_epoch: int | None = None
    last_update_time_since_epoch: int | None = None


# ------------------------------------------------------------------------------------------- edges


@dataclass(kw_only=True)
class Event:
    """An artifact read or written by an execution.

    ``path`` locates the artifact in the execution's signature: a list of steps, each an ``int``
    (an index) or a ``str`` (a key), e.g. ``["examples", 0]``.
    """

    artifact_id: int | None = None
    execution_id: int | None = None
    type: EventType = EventType.UNKNOWN
    path: list[int | str] = field(default_factory=list)
    milliseconds_since_epoch: int | None = None

    Type: ClassVar[builtins.type[EventType]] = EventType

    def __post_init__(self) -> None:
        self.type = _member(EventType, self.type)


@dataclass(frozen=True, kw_only=True)
class Attribution:
    """An artifact belongs to a context."""

    artifact_id: int
    context_id: int


@dataclass(frozen=True, kw_only=True)
class Association:
    """An execution belongs to a context."""

    execution_id: int
    context_id: int


@dataclass(frozen=True, kw_only=True)
class ParentContext:
    """Context ``parent_id`` contains context ``child_id``."""

    child_id: int
    parent_id: int


# ----------------------------------------------------------------------------------------- results


@dataclass(kw_only=True)
class LineageGraph:
    """A subgraph of the store: nodes, the edges between them, their contexts and types.

    ``truncated`` is True when a node limit cut the answer short.
    """

    artifact_types: list[ArtifactType] = field(default_factory=list)
    execution_types: list[ExecutionType] = field(default_factory=list)
    context_types: list[ContextType] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    contexts: list[Context] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    attributions: list[Attribution] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)
    parent_contexts: list[ParentContext] = field(default_factory=list)
    truncated: bool = False


class LineageDirection(_Named):
    """Which way a lineage query walks from its starting nodes.

    UPSTREAM follows where things came from (an artifact to the execution that produced it, an
    execution to its inputs); DOWNSTREAM follows what was made from them; BIDIRECTIONAL follows
    every event either way.
    """

    DIRECTION_UNSPECIFIED = 0
    UPSTREAM = 1
    DOWNSTREAM = 2
    BIDIRECTIONAL = 3


@dataclass(kw_only=True)
class StartingNodes:
    """The nodes a lineage query starts from, chosen by a filter query."""

    filter_query: str


@dataclass(kw_only=True)
class EndingNodes:
    """Nodes where a lineage query stops: matching nodes are not walked through.

    They are part of the answer only with ``include_ending_nodes=True``.
    """

    filter_query: str
    include_ending_nodes: bool = False


@dataclass(kw_only=True)
class LineageSubgraphQueryOptions:
    """MLMD's options of ``get_lineage_subgraph``.

    Give ``starting_artifacts`` or ``starting_executions``. ``max_num_hops=None`` walks without
    limit (an artifact to an execution is one hop); ``max_node_size`` caps the number of
    artifacts and executions returned (nearest first) and sets ``LineageGraph.truncated``.
    """

    starting_artifacts: StartingNodes | None = None
    starting_executions: StartingNodes | None = None
    max_num_hops: int | None = None
    direction: LineageDirection = LineageDirection.BIDIRECTIONAL
    ending_artifacts: EndingNodes | None = None
    ending_executions: EndingNodes | None = None
    max_node_size: int | None = None

    StartingNodes: ClassVar[builtins.type[StartingNodes]] = StartingNodes
    EndingNodes: ClassVar[builtins.type[EndingNodes]] = EndingNodes
    Direction: ClassVar[builtins.type[LineageDirection]] = LineageDirection

    def __post_init__(self) -> None:
        self.direction = _member(LineageDirection, self.direction)


class OrderByField(enum.Enum):
    """What a listing is ordered by; ties are broken by id in the same direction.

    A listing may also be ordered by a property value: ``order_by="properties.accuracy"`` or
    ``"custom_properties.loss"`` (see :class:`ListOptions`).
    """

    ID = "id"
    CREATE_TIME = "create_time"
    UPDATE_TIME = "update_time"
    LAST_UPDATE_TIME = "update_time"

    def __str__(self) -> str:
        return self.name


@dataclass(kw_only=True)
class ListOptions:
    """Options of a listing call (``get_artifacts``, ``get_executions_by_context``, ...).

    ``limit=None`` (or 0) returns every match. With a limit, the returned :class:`ResultPage`
    carries ``next_page_token`` when more rows exist; pass it back as ``page_token`` (with the same
    other options) to get the next page. Paging is keyset based, so rows inserted meanwhile do not
    shift pages.

    ``order_by`` is an :class:`OrderByField` (or its name: ``"id"``, ``"create_time"``,
    ``"update_time"``) or a property: ``"properties.<name>"`` / ``"custom_properties.<name>"``.
    By a property, numbers (int and double values together) come first, then strings, booleans
    and struct values, each kind in the chosen direction; nodes without the property come last
    in both directions. Ties are broken by id.
    """

    limit: int | None = None
    order_by: OrderByField | str = OrderByField.ID
    is_asc: bool = True
    filter_query: str | None = None
    page_token: str | None = None


T = TypeVar("T")


class ResultPage(list[T], Generic[T]):
    """A list of results plus ``next_page_token`` (``None`` when this is the last page)."""

    next_page_token: str | None

    def __init__(self, items: Any = (), next_page_token: str | None = None) -> None:
        super().__init__(items)
        self.next_page_token = next_page_token


def to_dict(value: Any) -> Any:
    """A JSON-ready copy of a model object, or of a list or dict of them.

    Dataclasses (artifacts, executions, types, events, lineage graphs, comparisons...) become dicts
    of their fields, enum members their names (``"FAILED"``, not ``4``), tuples lists; other values
    are kept. ``json.dumps(to_dict(execution))`` shows states and types by name.
    """
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_dict(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {to_dict(key): to_dict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_dict(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return value
