"""A process-wide hybrid logical clock (HLC): the stamps of changes.

A stamp is ``(milliseconds since the epoch << 16) + counter``: it follows the wall clock, never
goes back, and is larger than every stamp this process has made or seen (:func:`observe`), so a
change made after seeing another's is stamped later even when the clocks of the two sites differ.
Stamps are compared with the site id as a tie-break (last writer wins per key).
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_last = 0


def tick() -> int:
    """A new stamp, larger than every stamp made or observed before in this process."""
    global _last
    now = time.time_ns() // 1_000_000 << 16
    with _lock:
        _last = now if now > _last else _last + 1
        return _last


def observe(hlc: int) -> None:
    """Take note of a stamp made elsewhere (a change received from another site): later ticks
    are larger."""
    global _last
    with _lock:
        if hlc > _last:
            _last = hlc
