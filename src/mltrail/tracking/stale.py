"""Stale runs: executions left RUNNING by a process that died, found and closed.

A run whose process is killed (``SIGKILL``, a lost machine, a pre-empted job) never ends: it stays
RUNNING. :func:`close_stale_runs` finds such runs among the RUNNING executions tracking recorded
and closes them FAILED (or CANCELED) in one transaction. A run is stale when

* its owner is a process on this host (same host name, boot and pid namespace) that no longer
  runs, or whose pid now belongs to another process; a run whose process still runs on this host
  is never closed, however old its heartbeat;
* or, when ``older_than`` is given, its owner is elsewhere (or cannot be looked up) and its
  heartbeat is older than ``older_than``. Runs recorded before heartbeats existed count from
  their last update.

Heartbeats are written by the run's log calls, at most every 30 seconds, not by a background
thread: a run that computes for an hour without logging anything looks an hour old from another
host. Give ``older_than`` generously (longer than the quietest stretch of your runs), or call
:meth:`Run.heartbeat <mltrail.tracking.Run.heartbeat>` in long loops.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from mltrail.errors import InvalidArgumentError
from mltrail.model import Execution, ExecutionState
from mltrail.store import MetadataStore
from mltrail.tracking import _liveness as L

__all__ = ["close_stale_runs", "find_stale_runs"]

#: The states a stale run can be closed in.
CLOSING_STATES = (ExecutionState.FAILED, ExecutionState.CANCELED)


def find_stale_runs(
    store: MetadataStore,
    older_than: dt.timedelta | float | None = None,
    *,
    pipeline: str | None = None,
    now: int | None = None,
) -> list[tuple[Execution, str]]:
    """The stale runs (see the module's description) and why each is stale, oldest first.

    ``older_than``: a ``timedelta`` or seconds; None judges only runs of this host.
    ``pipeline``: only runs of this pipeline. ``now``: the time to judge heartbeats against, in
    ms since the epoch (default: now).
    """
    threshold = _threshold_ms(older_than)
    if pipeline is not None and (not isinstance(pipeline, str) or not pipeline):
        raise InvalidArgumentError("pipeline must be a non-empty string (or None for all)")
    if now is not None and (isinstance(now, bool) or not isinstance(now, int)):
        raise InvalidArgumentError(f"now must be ms since the epoch (an int), got {now!r}")
    moment = now if now is not None else L.now_ms()
    here = L.current_owner()
    found = []
    for execution in store.get_executions(filter_query="last_known_state = RUNNING"):
        if "start_time" not in execution.properties:
            continue  # not a tracking run: someone else's bookkeeping
        if pipeline is not None and execution.properties.get("pipeline") != pipeline:
            continue
        reason = _why_stale(execution, here, threshold, moment)
        if reason is not None:
            found.append((execution, reason))
    return found


def close_stale_runs(
    store: MetadataStore,
    older_than: dt.timedelta | float | None = None,
    *,
    state: ExecutionState | str = "FAILED",
    pipeline: str | None = None,
    now: int | None = None,
) -> list[Execution]:
    """Close the stale runs (see :func:`find_stale_runs` for the arguments) in ``state``
    (``"FAILED"`` or ``"CANCELED"``), in one transaction, and return them as closed.

    Each gets ``last_known_state``, an ``end_time`` (now) and the custom property
    ``mltrail.closed_reason`` saying why it was judged stale.
    """
    final = _closing_state(state)
    moment = now if now is not None else L.now_ms()
    stale = find_stale_runs(store, older_than, pipeline=pipeline, now=moment)
    closed = []
    for execution, reason in stale:
        execution.last_known_state = final
        execution.properties["end_time"] = moment
        execution.custom_properties[L.CLOSED_REASON_PROPERTY] = reason
        closed.append(execution)
    if closed:
        store.put_executions(
            closed,
            field_mask_paths=[
                "last_known_state",
                "properties.end_time",
                f"custom_properties.{L.CLOSED_REASON_PROPERTY}",
            ],
        )
    return closed


def _why_stale(execution: Execution, here: L.Owner, threshold: int | None, now: int) -> str | None:
    owner = L.Owner.of(execution)
    if owner is not None and owner.same_host(here):
        alive = L.process_alive(owner)
        if alive is False:
            return f"stale: process {owner.pid} on {owner.host} that ran it is no longer running"
        if alive is True:
            return None  # a live run, however quiet
    if threshold is None:
        return None
    beat = execution.custom_properties.get(L.HEARTBEAT_PROPERTY)
    if not isinstance(beat, int) or isinstance(beat, bool):
        beat = execution.last_update_time_since_epoch
    if beat is None or now - beat <= threshold:
        return None
    where = f" on {owner.host} (process {owner.pid})" if owner is not None else ""
    return (
        f"stale: no heartbeat{where} for {_duration(now - beat)}, more than the "
        f"{_duration(threshold)} allowed"
    )


def _threshold_ms(older_than: dt.timedelta | float | None) -> int | None:
    if older_than is None:
        return None
    if isinstance(older_than, dt.timedelta):
        seconds = older_than.total_seconds()
    elif isinstance(older_than, (int, float)) and not isinstance(older_than, bool):
        seconds = float(older_than)
    else:
        raise InvalidArgumentError(
            f"older_than must be a timedelta or a number of seconds, got {older_than!r}"
        )
    if not seconds >= 0:  # also NaN
        raise InvalidArgumentError(f"older_than must not be negative, got {older_than!r}")
    return int(seconds * 1000)


def _closing_state(state: ExecutionState | str) -> ExecutionState:
    names: Sequence[str] = [s.name for s in CLOSING_STATES]
    if isinstance(state, ExecutionState):
        chosen = state
    elif isinstance(state, str) and state.upper() in names:
        chosen = ExecutionState[state.upper()]
    else:
        chosen = None
    if chosen not in CLOSING_STATES:
        raise InvalidArgumentError(f"stale runs are closed as {' or '.join(names)}, not {state!r}")
    assert chosen is not None
    return chosen


def _duration(ms: int) -> str:
    seconds = ms // 1000
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
