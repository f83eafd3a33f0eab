"""The Python environment a run used: interpreter, platform and installed distributions.

Read in-process from :mod:`importlib.metadata` (no ``pip freeze``, no subprocess) once per process
and cached. Only facts that define the environment go into it (not the interpreter's path or the
host name), so identical environments on different machines have the same digest and are one
Environment artifact.
"""

from __future__ import annotations

import platform
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mltrail.tracking.hashing import digest_document

if TYPE_CHECKING:
    import importlib.metadata

__all__ = ["Environment", "capture_environment"]


@dataclass(frozen=True)
class Environment:
    """An interpreter and its installed distributions (``packages``: name → version)."""

    implementation: str
    python_version: str
    system: str
    machine: str
    packages: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "kind": "environment",
            "implementation": self.implementation,
            "python_version": self.python_version,
            "system": self.system,
            "machine": self.machine,
            "packages": dict(self.packages),
        }

    @property
    def digest(self) -> str:
        """``"sha256:<hex>"`` of the environment's canonical JSON document."""
        return digest_document(self.document())


_lock = threading.Lock()
_cached: Environment | None = None


def capture_environment(*, refresh: bool = False) -> Environment:
    """This process's environment, computed on the first call and then cached."""
    global _cached
    with _lock:
        if _cached is None or refresh:
            _cached = Environment(
                implementation=platform.python_implementation(),
                python_version=platform.python_version(),
                system=platform.system(),
                machine=platform.machine(),
                packages=installed_distributions(),
            )
        return _cached


def installed_distributions() -> dict[str, str]:
    """Name → version of every distribution importable from ``sys.path``; the first found wins,
    as for imports. Only the header of each METADATA file is read."""
    import importlib.metadata  # not at import time: it is slow to import

    found: dict[str, str] = {}
    seen: set[str] = set()
    for dist in importlib.metadata.distributions(path=list(sys.path)):
        name, version = _name_and_version(dist)
        if not name or not version:
            continue
        key = _normalize(name)
        if key not in seen:
            seen.add(key)
            found[name] = version
    return dict(sorted(found.items(), key=lambda item: _normalize(item[0])))


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.splitlines():
        if not line.strip():
            break  # the end of the headers
        if name is None and line.startswith("Name:"):
            name = line[len("Name:") :].strip()
        elif version is None and line.startswith("Version:"):
            version = line[len("Version:") :].strip()
        if name and version:
            break
    return name, version


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
