"""Who owns a running execution, whether that process still lives, and the clock runs use.

A run records its owner when it starts, as the custom property ``mltrail.owner``: the host name,
the process id and, where the system tells (Linux's ``/proc``), the boot id, the pid namespace
and the process's start time. Two owners are on *the same host* when the host name, boot id and
pid namespace agree; only then can the process be looked up, and the start time tells a process
from a later one that was given the same pid. A run also records ``mltrail.heartbeat_time`` (ms
since the epoch), refreshed by its log calls at most every :data:`HEARTBEAT_INTERVAL_MS`.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from mltrail.model import Execution, PropertyValue

OWNER_PROPERTY = "mltrail.owner"
HEARTBEAT_PROPERTY = "mltrail.heartbeat_time"
CLOSED_REASON_PROPERTY = "mltrail.closed_reason"

#: A run's heartbeat is written again by a log call at most this often (ms).
HEARTBEAT_INTERVAL_MS = 30_000

_PROC = "/proc"


def now_ms() -> int:
    """The time in ms since the epoch: every time tracking records (tests replace it)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Owner:
    """The process running an execution."""

    host: str
    pid: int
    boot: str | None = None  # Linux's boot id: pids of another boot are another story
    pid_namespace: str | None = None  # containers on one host have pid namespaces of their own
    start: int | None = None  # the process's start time, in clock ticks since boot

    def same_host(self, other: Owner) -> bool:
        return (self.host, self.boot, self.pid_namespace) == (
            other.host,
            other.boot,
            other.pid_namespace,
        )

    def to_property(self) -> dict[str, Any]:
        fields = {
            "host": self.host,
            "pid": self.pid,
            "boot": self.boot,
            "pid_namespace": self.pid_namespace,
            "start": self.start,
        }
        return {key: value for key, value in fields.items() if value is not None}

    @staticmethod
    def of(execution: Execution) -> Owner | None:
        """The owner an execution recorded, or None (recorded by an older mltrail, or not a
        tracking run)."""
        value = execution.custom_properties.get(OWNER_PROPERTY)
        if not isinstance(value, dict):
            return None
        host, pid = value.get("host"), value.get("pid")
        if not isinstance(host, str) or not isinstance(pid, int) or isinstance(pid, bool):
            return None
        boot, namespace, start = value.get("boot"), value.get("pid_namespace"), value.get("start")
        return Owner(
            host,
            pid,
            boot if isinstance(boot, str) else None,
            namespace if isinstance(namespace, str) else None,
            start if isinstance(start, int) and not isinstance(start, bool) else None,
        )


_current: tuple[int, Owner] | None = None


def current_owner() -> Owner:
    """This process (computed once per process id, so a forked child gets its own)."""
    global _current
    pid = os.getpid()
    if _current is None or _current[0] != pid:
        _current = (
            pid,
            Owner(
                socket.gethostname(),
                pid,
                _read(f"{_PROC}/sys/kernel/random/boot_id"),
                _link(f"{_PROC}/self/ns/pid"),
                _start_ticks(pid),
            ),
        )
    return _current[1]


def owner_properties() -> dict[str, PropertyValue]:
    """The custom properties a new run records about its owner, and its first heartbeat."""
    return {OWNER_PROPERTY: current_owner().to_property(), HEARTBEAT_PROPERTY: now_ms()}


def process_alive(owner: Owner) -> bool | None:
    """Whether ``owner`` (a process on this host) still runs; None when the system cannot tell.

    A zombie (killed, not yet reaped by its parent) is not alive; neither is a process with the
    owner's pid but another start time (the pid was reused).
    """
    if os.path.isdir(_PROC) and os.path.exists(f"{_PROC}/self/stat"):
        fields = _stat_fields(owner.pid)
        if fields is None:
            return False
        if fields[0] in ("Z", "X"):
            return False
        return owner.start is None or _ticks(fields) == owner.start
    if os.name != "posix":
        return None  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    except OSError:
        return None
    return True


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None."""
    text = _read(f"{_PROC}/{pid}/stat")
    if text is None or ")" not in text:
        return None
    return text.rsplit(")", 1)[1].split()


def _ticks(fields: list[str]) -> int | None:
    try:
        return int(fields[19])  # field 22 of proc(5), "starttime"
    except (IndexError, ValueError):
        return None


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return _ticks(fields) if fields is not None else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as stream:
            return stream.read().strip() or None
    except OSError:
        return None


def _link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None
