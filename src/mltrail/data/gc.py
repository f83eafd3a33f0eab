"""Removing cache objects that no artifact of a store refers to.

:func:`gc` keeps every object referenced by an artifact of the store (artifacts with bytes, data
slice members, and the files of referenced directory manifests) and every object younger than
``min_age`` seconds (a file being logged right now is in the cache before its artifact is in the
store); it removes the rest, and temporaries older than ``min_age``. By default it only reports
(``dry_run=True``). The store is read in set-based pages, never a query per artifact.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from mltrail.data import _files
from mltrail.data._oid import Oid
from mltrail.data._select import holdings, select_artifacts
from mltrail.data.cache import Cache
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, MltrailError

__all__ = ["DEFAULT_MIN_AGE", "GcReport", "gc"]

#: Objects and temporaries younger than this many seconds are kept.
DEFAULT_MIN_AGE = 3600.0


@dataclass
class GcReport:
    """What :func:`gc` removed (or, in a dry run, would remove) and kept.

    ``removed``: the unreferenced objects, with ``removed_bytes``; ``kept``/``kept_bytes``:
    objects kept (referenced or young), of which ``young`` were unreferenced but younger than
    ``min_age``; ``temporaries``: stale temporaries and partial downloads removed.
    """

    dry_run: bool
    removed: list[Oid] = field(default_factory=list)
    removed_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    young: int = 0
    temporaries: int = 0


def referenced_objects(store: Any, cache: Cache) -> set[Oid]:
    """Every object the store's artifacts refer to, with the files of the directory manifests
    found in ``cache``. FailedPreconditionError when a referenced manifest cannot be read (its
    files are unknown, so nothing could be removed safely)."""
    referenced = {holding.oid for holding in holdings(select_artifacts(store))}
    for oid in sorted(o for o in referenced if o.is_dir):
        if not cache.has(oid):
            continue
        try:
            referenced.update(member for _, member in cache.read_manifest(oid))
        except MltrailError as exc:
            raise FailedPreconditionError(
                f"cannot read the manifest {oid} in {cache.root} ({exc.message}); remove it and "
                "pull it again before collecting garbage"
            ) from None
    return referenced


def gc(
    store: Any, cache: Cache, *, dry_run: bool = True, min_age: float = DEFAULT_MIN_AGE
) -> GcReport:
    """Removes the objects of ``cache`` that no artifact of ``store`` refers to (only reports
    them when ``dry_run``); objects and temporaries younger than ``min_age`` seconds stay."""
    if not isinstance(min_age, (int, float)) or min_age < 0:
        raise InvalidArgumentError(f"min_age must be a number of seconds >= 0, got {min_age!r}")
    referenced = referenced_objects(store, cache)
    report = GcReport(dry_run=dry_run)
    cutoff = time.time() - min_age
    for oid, size, mtime in cache.walk():
        if oid in referenced or mtime > cutoff:
            report.kept += 1
            report.kept_bytes += size
            report.young += oid not in referenced
        else:
            report.removed.append(oid)
            report.removed_bytes += size
    report.removed.sort()
    stale = _stale_temporaries(cache, cutoff)
    report.temporaries = len(stale)
    if not dry_run:
        cache.remove(report.removed)
        for path in stale:
            _files.remove_quietly(path)
    return report


def _stale_temporaries(cache: Cache, cutoff: float) -> list[str]:
    try:
        entries = list(os.scandir(cache.tmp_dir))
    except FileNotFoundError:
        return []
    stale = []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime <= cutoff:
                stale.append(entry.path)
        except FileNotFoundError:
            continue
    return sorted(stale)
