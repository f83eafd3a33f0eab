"""Stale runs: owners and heartbeats on running executions, and closing runs whose process died."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import mltrail as m
from mltrail import ExecutionState as S
from mltrail.errors import InvalidArgumentError
from mltrail.tracking import Tracker, _liveness, close_stale_runs, find_stale_runs
from mltrail.tracking._liveness import (
    CLOSED_REASON_PROPERTY,
    HEARTBEAT_INTERVAL_MS,
    HEARTBEAT_PROPERTY,
    OWNER_PROPERTY,
    Owner,
)

T0 = 1_700_000_000_000  # ms since the epoch


class Clock:
    """The time tracking sees, moved by hand."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(T0)
    monkeypatch.setattr(_liveness, "now_ms", fake)
    return fake


def stored(store: m.MetadataStore, execution_id: int) -> m.Execution:
    [found] = store.get_executions_by_id([execution_id])
    return found


def start_elsewhere(tracker: Tracker, monkeypatch: pytest.MonkeyPatch, stage: str = "s") -> Any:
    other = Owner("another-host", 4242, "boot-elsewhere", "pid:[1]", 99)
    with monkeypatch.context() as patch:
        patch.setattr(_liveness, "current_owner", lambda: other)
        return tracker.stage(stage).execution()


def test_a_run_records_its_owner_and_a_heartbeat(
    tracker: Tracker, store: m.MetadataStore, clock: Clock
) -> None:
    with tracker.stage("s").execution(parameters={"lr": 0.1}) as run:
        recorded = stored(store, run.id)
        owner = recorded.custom_properties[OWNER_PROPERTY]
        assert isinstance(owner, dict)
        assert owner["pid"] == os.getpid() and isinstance(owner["host"], str)
        assert recorded.custom_properties[HEARTBEAT_PROPERTY] == T0
        assert Owner.of(recorded) == _liveness.current_owner()
    assert run.parameters == {"lr": 0.1}  # bookkeeping is not a parameter


def test_log_calls_refresh_the_heartbeat_at_most_every_interval(
    tracker: Tracker, store: m.MetadataStore, clock: Clock
) -> None:
    with tracker.stage("s").execution() as run:
        clock.now = T0 + HEARTBEAT_INTERVAL_MS - 1
        run.log_parameters(a=1)
        assert stored(store, run.id).custom_properties[HEARTBEAT_PROPERTY] == T0
        clock.now = T0 + HEARTBEAT_INTERVAL_MS
        run.log_metrics({"x": 1.0})
        assert stored(store, run.id).custom_properties[HEARTBEAT_PROPERTY] == clock.now
        clock.now += 5
        run.heartbeat()  # explicit: written whatever the interval
        assert stored(store, run.id).custom_properties[HEARTBEAT_PROPERTY] == clock.now


def test_a_failed_log_call_writes_no_heartbeat(
    tracker: Tracker, store: m.MetadataStore, clock: Clock, project: Path
) -> None:
    with tracker.stage("s").execution() as run:
        clock.now = T0 + 10 * HEARTBEAT_INTERVAL_MS
        with pytest.raises(m.errors.NotFoundError):
            run.log_dataset(project / "missing.csv")
        assert stored(store, run.id).custom_properties[HEARTBEAT_PROPERTY] == T0


def test_heartbeat_threshold_for_runs_of_other_hosts(
    tracker: Tracker, store: m.MetadataStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = start_elsewhere(tracker, monkeypatch)
    minute = dt.timedelta(minutes=1)
    assert find_stale_runs(store, minute, now=T0 + 60_000) == []  # exactly the threshold: fresh
    assert tracker.close_stale_runs(minute) == []  # the clock says T0: just started
    assert stored(store, run.id).last_known_state == S.RUNNING
    # The run logs 40 s in: its heartbeat moves on.
    clock.now = T0 + 40_000
    run.log_parameters(step=1)
    assert close_stale_runs(store, 60, now=T0 + 61_000) == []
    assert close_stale_runs(store, None, now=T0 + 10**9) == []  # no threshold: only this host
    [closed] = close_stale_runs(store, 60, now=T0 + 100_001)
    assert closed.id == run.id
    again = stored(store, run.id)
    assert again.last_known_state == S.FAILED
    assert again.properties["end_time"] == T0 + 100_001
    reason = again.custom_properties[CLOSED_REASON_PROPERTY]
    assert isinstance(reason, str) and "no heartbeat" in reason and "another-host" in reason
    assert close_stale_runs(store, 60, now=T0 + 10**9) == []  # closed once


def test_a_live_run_of_this_host_is_never_closed(
    tracker: Tracker, store: m.MetadataStore, clock: Clock
) -> None:
    with tracker.stage("s").execution() as run:
        far = T0 + 10**12
        assert find_stale_runs(store, 0, now=far) == []
        assert close_stale_runs(store, dt.timedelta(0), now=far) == []
        assert stored(store, run.id).last_known_state == S.RUNNING
    assert stored(store, run.id).last_known_state == S.COMPLETE


def test_a_dead_pid_of_this_host_is_stale_without_a_threshold(
    tracker: Tracker, store: m.MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # exited and reaped: its pid names no process (or a later one)
    here = _liveness.current_owner()
    dead = Owner(here.host, gone.pid, here.boot, here.pid_namespace, here.start)
    with monkeypatch.context() as patch:
        patch.setattr(_liveness, "current_owner", lambda: dead)
        run = tracker.stage("s").execution()
    live = tracker.stage("s").execution()
    [closed] = tracker.close_stale_runs(state="CANCELED")
    assert closed.id == run.id and closed.last_known_state == S.CANCELED
    assert stored(store, run.id).last_known_state == S.CANCELED
    assert f"process {gone.pid}" in str(closed.custom_properties[CLOSED_REASON_PROPERTY])
    assert stored(store, live.id).last_known_state == S.RUNNING
    live.end()


def test_a_reused_pid_is_not_the_run_s_process(tracker: Tracker, store: m.MetadataStore) -> None:
    here = _liveness.current_owner()
    if here.start is None:  # no /proc: only liveness can be asked, not the start time
        assert _liveness.process_alive(here) is True
        return
    impostor = Owner(here.host, here.pid, here.boot, here.pid_namespace, here.start + 1)
    assert _liveness.process_alive(impostor) is False
    assert _liveness.process_alive(here) is True


def test_only_this_pipeline_and_only_tracking_runs(
    tracker: Tracker,
    store: m.MetadataStore,
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
) -> None:
    ours = start_elsewhere(tracker, monkeypatch)
    with Tracker("other", store=store, root=project, git=False) as other:
        theirs = start_elsewhere(other, monkeypatch)
    store.put_execution_type(m.ExecutionType(name="Manual"))
    [manual] = store.put_executions([m.Execution(type="Manual", last_known_state="RUNNING")])
    far = 2**62
    assert [e.id for e in tracker.close_stale_runs(1)] == []  # the clock says: just started
    closed = close_stale_runs(store, 1, pipeline="demo", now=far)
    assert [e.id for e in closed] == [ours.id]
    assert stored(store, theirs.id).last_known_state == S.RUNNING
    assert [e.id for e in close_stale_runs(store, 1, now=far)] == [theirs.id]
    assert stored(store, manual).last_known_state == S.RUNNING  # not a tracking run


def test_closing_is_one_transaction(
    tracker: Tracker, store: m.MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [start_elsewhere(tracker, monkeypatch) for _ in range(3)]
    calls: list[int] = []
    real = store.put_executions

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "put_executions", counting)
    closed = close_stale_runs(store, 0, now=2**62)
    assert sorted(e.id for e in closed) == sorted(r.id for r in runs)
    assert calls == [3]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"older_than": -1}, "negative"),
        ({"older_than": float("nan")}, "negative"),
        ({"older_than": "1h"}, "timedelta"),
        ({"older_than": True}, "timedelta"),
        ({"state": "COMPLETE"}, "FAILED or CANCELED"),
        ({"state": S.RUNNING}, "FAILED or CANCELED"),
        ({"state": 4}, "FAILED or CANCELED"),
        ({"pipeline": ""}, "pipeline"),
        ({"now": "today"}, "ms since the epoch"),
    ],
)
def test_bad_arguments_are_invalid(
    store: m.MetadataStore, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        close_stale_runs(store, **arguments)


CHILD = textwrap.dedent(
    """
    import sys
    from mltrail.tracking import Tracker

    url, root = sys.argv[1], sys.argv[2]
    tracker = Tracker("demo", store=url, root=root, git=False, environment=False)
    run = tracker.stage("train").execution(parameters={"lr": 0.1})
    print(run.id, flush=True)
    sys.stdin.read()  # runs until killed
    """
)


@pytest.mark.parametrize("backend", ["sqlite-file", "postgresql", "mysql"], indirect=True)
def test_a_run_whose_process_was_killed_is_closed(
    store: m.MetadataStore, empty_url: str | None, project: Path
) -> None:
    assert empty_url is not None  # a database a second process can open
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, empty_url, str(project)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        run_id = int(child.stdout.readline())
        # Alive on this host: never stale, whatever its heartbeat's age.
        assert close_stale_runs(store, 0, now=2**62) == []
        assert stored(store, run_id).last_known_state == S.RUNNING
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdin is not None:
            child.stdin.close()
        if child.stdout is not None:
            child.stdout.close()
    [closed] = close_stale_runs(store)  # no threshold needed: the process is gone
    assert closed.id == run_id
    recorded = stored(store, run_id)
    assert recorded.last_known_state == S.FAILED
    reason = str(recorded.custom_properties[CLOSED_REASON_PROPERTY])
    assert f"process {child.pid}" in reason and "no longer running" in reason
    assert recorded.custom_properties["lr"] == 0.1


def test_a_heartbeat_that_cannot_be_written_does_not_fail_the_log_call(
    tracker: Tracker, store: m.MetadataStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tracker.stage("s").execution() as run:
        real = store.put_executions

        def unavailable(executions: Any, field_mask_paths: Any = None) -> Any:
            if field_mask_paths == [f"custom_properties.{HEARTBEAT_PROPERTY}"]:
                raise m.errors.UnavailableError("the store is down")
            return real(executions, field_mask_paths=field_mask_paths)

        with monkeypatch.context() as patch:
            patch.setattr(store, "put_executions", unavailable)
            clock.now = T0 + HEARTBEAT_INTERVAL_MS
            run.log_parameters(a=1)  # recorded; the heartbeat waits for the next call
            assert run.execution.custom_properties[HEARTBEAT_PROPERTY] == T0
            with pytest.raises(m.errors.UnavailableError):
                run.heartbeat()  # asked for explicitly: the error is the caller's
        clock.now += 1
        run.log_parameters(b=2)
        recorded = stored(store, run.id).custom_properties
        assert (recorded["a"], recorded["b"], recorded[HEARTBEAT_PROPERTY]) == (1, 2, clock.now)
