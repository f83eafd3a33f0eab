"""The one error tree of mltrail.

Every error a public call raises on purpose is a subclass of :class:`MltrailError`::

    MltrailError
     ├── InvalidArgumentError        the request itself is wrong (HTTP 400)
     │    ├── QuerySyntaxError       a filter query does not parse or names nothing (400)
     │    └── RequestTooLargeError   a request to the server exceeds its size limit (413)
     ├── NotFoundError               something the request names does not exist (404)
     ├── AlreadyExistsError          the request would duplicate something unique (409)
     │    └── SyncConflictError      a batch of changes conflicts with the store; none applied (409)
     ├── FailedPreconditionError     the store is not in a state to do this (412)
     │    └── SchemaVersionError     the database schema version does not fit this library (412)
     ├── AbortedError                a conflict with a concurrent writer; retrying may succeed (409)
     ├── DeadlineExceededError       a statement ran past the statement timeout (504)
     ├── UnavailableError            the database cannot be reached (503)
     ├── UnauthenticatedError        no valid credentials (401)
     └── PermissionDeniedError       credentials lack the permission (403)

Each class carries the HTTP status the server answers with (``http_status``). Messages say what was
wrong and what to do about it. A public call that raises leaves the store exactly as it was.
"""

from __future__ import annotations

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "MltrailError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuerySyntaxError",
    "RequestTooLargeError",
    "SchemaVersionError",
    "SyncConflictError",
    "UnauthenticatedError",
    "UnavailableError",
]


class MltrailError(Exception):
    """Base class of every error mltrail raises on purpose."""

    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgumentError(MltrailError):
    """The request is malformed: a missing field, a wrong value type, an unknown property."""

    http_status = 400


class QuerySyntaxError(InvalidArgumentError):
    """A filter query is not valid.

    ``line`` and ``column`` (1-based) point at the fault, ``query`` is the text that was given and
    ``hint`` (possibly empty) suggests a fix. ``str(error)`` shows the query with a caret under the
    fault.
    """

    def __init__(self, message: str, *, query: str, line: int, column: int, hint: str = "") -> None:
        self.query = query
        self.line = line
        self.column = column
        self.hint = hint
        self.reason = message
        super().__init__(self._render())

    def _render(self) -> str:
        lines = self.query.splitlines() or [""]
        text = lines[self.line - 1] if 0 < self.line <= len(lines) else ""
        caret = " " * max(self.column - 1, 0) + "^"
        out = f"{self.reason} (line {self.line}, column {self.column})\n  {text}\n  {caret}"
        if self.hint:
            out += f"\n{self.hint}"
        return out


class RequestTooLargeError(InvalidArgumentError):
    """A request to an mltrail server is larger than the server accepts (``--max-body-size``)."""

    http_status = 413


class NotFoundError(MltrailError):
    """Something the request refers to (a type, a node by id) does not exist."""

    http_status = 404


class AlreadyExistsError(MltrailError):
    """The request would create a duplicate of something that must be unique, or change a type in
    a way that is not allowed."""

    http_status = 409


class SyncConflictError(AlreadyExistsError):
    """A batch of changes from another store conflicts with this one; nothing of it was applied.

    ``conflicts`` lists each one as a dict: ``kind`` (``"property_type"``, ``"name"``,
    ``"external_id"``, ``"node_type"``, ``"cycle"``), ``message`` (what clashes) and ``resolve``
    (how to resolve it). The message lists them too.
    """

    def __init__(self, message: str, *, conflicts: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


class FailedPreconditionError(MltrailError):
    """The store is not in a state that allows the call."""

    http_status = 412


class SchemaVersionError(FailedPreconditionError):
    """The database's schema version does not match this library's.

    ``database_version`` and ``library_version`` hold the two integers.
    """

    def __init__(self, message: str, *, database_version: int, library_version: int) -> None:
        super().__init__(message)
        self.database_version = database_version
        self.library_version = library_version


class AbortedError(MltrailError):
    """A concurrent writer got in the way (deadlock, serialization failure, busy database).

    The call had no effect; retrying it may succeed. mltrail already retries a few times before
    raising this.
    """

    http_status = 409


class DeadlineExceededError(MltrailError):
    """A statement of the call ran longer than the store's statement timeout and was stopped.

    The call had no effect. ``timeout`` holds the timeout in seconds. Narrow the request (a
    filter, a limit, fewer hops) or open the store with a larger ``statement_timeout``. mltrail
    does not retry it: the same call would most likely run as long again.
    """

    http_status = 504

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout


class UnavailableError(MltrailError):
    """The database (or server) cannot be reached."""

    http_status = 503


class UnauthenticatedError(MltrailError):
    """The request carries no valid credentials."""

    http_status = 401


class PermissionDeniedError(MltrailError):
    """The credentials are valid but do not allow this call."""

    http_status = 403
