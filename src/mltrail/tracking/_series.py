"""Step metrics buffered in memory until the run commits them (or ends)."""

from __future__ import annotations

import math

from mltrail.errors import InvalidArgumentError


class Series:
    """Values per step for one named series; columns are aligned on ``steps`` (None = gap)."""

    def __init__(self, first_step: int = 0) -> None:
        self.first_step = first_step  # the default step when nothing was logged yet
        self.steps: list[int] = []
        self.columns: dict[str, list[float | int | None]] = {}

    def __len__(self) -> int:
        return len(self.steps)

    def next_step(self) -> int:
        return self.steps[-1] + 1 if self.steps else self.first_step

    def add(self, step: int | None, values: dict[str, int | float | str]) -> int:
        if step is None:
            step = self.next_step()
        elif isinstance(step, bool) or not isinstance(step, int):
            raise InvalidArgumentError(f"step must be an int, got {step!r}")
        for key in values:
            if key not in self.columns:
                self.columns[key] = [None] * len(self.steps)
        self.steps.append(step)
        for key, column in self.columns.items():
            value = values.get(key)
            # Non-finite values (kept as "nan"/"inf" strings by the checks) are gaps in a series.
            column.append(value if isinstance(value, (int, float)) and _finite(value) else None)
        return step


def _finite(value: int | float) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
