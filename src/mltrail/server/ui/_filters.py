"""Jinja2 filters of the UI's templates: times, property values, short texts."""

from __future__ import annotations

import datetime
import json
from typing import Any


def when(ms: Any) -> str:
    """Milliseconds since the epoch as UTC, to the second."""
    if not isinstance(ms, int) or isinstance(ms, bool) or ms <= 0:
        return ""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def value(item: Any) -> str:
    """A property value as text: numbers and strings as they are, the rest as JSON."""
    if item is None:
        return ""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return f"{item:.6g}"
    if isinstance(item, int | str):
        return str(item)
    return json.dumps(item, sort_keys=True, default=str)


def short(text: Any, size: int = 60) -> str:
    """``text`` cut to ``size`` characters, with an ellipsis when cut."""
    shown = "" if text is None else str(text)
    return shown if len(shown) <= size else shown[: size - 1] + "\u2026"


FILTERS = {"when": when, "value": value, "short": short}
