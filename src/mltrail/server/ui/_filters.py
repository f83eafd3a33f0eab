"""Jinja2 filters of the UI's templates: times, property values, short texts."""

from __future__ import annotations

import datetime
from typing import Any

from mltrail._plain import shown


def when(ms: Any) -> str:
    """Milliseconds since the epoch as UTC, to the second."""
    if not isinstance(ms, int) or isinstance(ms, bool) or ms <= 0:
        return ""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def short(text: Any, size: int = 60) -> str:
    """``text`` cut to ``size`` characters, with an ellipsis when cut."""
    shown = "" if text is None else str(text)
    return shown if len(shown) <= size else shown[: size - 1] + "\u2026"


FILTERS = {"when": when, "value": shown, "short": short}
