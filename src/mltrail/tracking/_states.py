"""How a run ends: its final state and the error it records."""

from __future__ import annotations

from mltrail.errors import InvalidArgumentError
from mltrail.model import ExecutionState, PropertyValue

#: Longest error message recorded on a failed execution.
MAX_ERROR_MESSAGE = 4000


def final_state(
    state: ExecutionState | str | None, error: BaseException | None, cached: bool
) -> ExecutionState:
    """The state a run ends in: the one given, else COMPLETE (CACHED when it reused an earlier
    execution), FAILED on an error, CANCELED on ``KeyboardInterrupt``; ``SystemExit`` with code 0
    or None is a success."""
    if state is not None:
        if isinstance(state, str):
            if state.upper() not in ExecutionState.__members__:
                raise InvalidArgumentError(f"unknown execution state {state!r}")
            return ExecutionState[state.upper()]
        return ExecutionState(state)
    success = ExecutionState.CACHED if cached else ExecutionState.COMPLETE
    if error is None:
        return success
    if isinstance(error, KeyboardInterrupt):
        return ExecutionState.CANCELED
    if isinstance(error, SystemExit) and error.code in (0, None):
        return success
    return ExecutionState.FAILED


def error_properties(error: BaseException) -> dict[str, PropertyValue]:
    """``error_type`` (qualified outside builtins) and ``error_message`` (truncated)."""
    kind = type(error)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    message = str(error) or repr(error)
    return {
        "error_type": module + kind.__qualname__,
        "error_message": message[:MAX_ERROR_MESSAGE],
    }
