"""Two artifacts side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mltrail.model import Artifact

_FIELDS = ("type", "name", "uri", "state", "external_id", "create_time_since_epoch")


@dataclass(frozen=True)
class ComparisonRow:
    """One compared field: ``field`` is e.g. "uri", "properties.rows" or "custom_properties.x";
    a value missing on one side is None."""

    field: str
    left: Any
    right: Any

    @property
    def differs(self) -> bool:
        return self.left != self.right or type(self.left) is not type(self.right)


@dataclass(frozen=True)
class ArtifactComparison:
    """The fields and properties of two artifacts, aligned; ``differences`` keeps what differs."""

    left: Artifact
    right: Artifact
    rows: list[ComparisonRow]

    @property
    def differences(self) -> list[ComparisonRow]:
        return [row for row in self.rows if row.differs]

    def __str__(self) -> str:
        width = max((len(r.field) for r in self.rows), default=5)
        lines = [f"{'field':<{width}}  artifact {self.left.id}  |  artifact {self.right.id}"]
        for row in self.rows:
            mark = "*" if row.differs else " "
            lines.append(f"{row.field:<{width}} {mark}{_show(row.left)}  |  {_show(row.right)}")
        return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None:
        return "—"
    text = getattr(value, "name", None) if hasattr(value, "value") else None
    return str(text if text is not None else value)


def compare(left: Artifact, right: Artifact) -> ArtifactComparison:
    rows = [ComparisonRow(name, getattr(left, name), getattr(right, name)) for name in _FIELDS]
    for group in ("properties", "custom_properties"):
        a, b = getattr(left, group), getattr(right, group)
        for key in sorted(set(a) | set(b)):
            rows.append(ComparisonRow(f"{group}.{key}", a.get(key), b.get(key)))
    return ArtifactComparison(left=left, right=right, rows=rows)
