"""The store-level verbs: push a store's artifact bytes to a remote, pull them into the cache.

:func:`push` makes sure each chosen artifact's objects are in the cache, adding them from the
paths the artifact was recorded at (under ``root``, the project root by default; verified: a file
that changed since it was logged is not added), then transfers cache → remote. :func:`pull`
transfers remote → cache, every object verified; checking out into the work tree is separate
(:func:`mltrail.data.checkout.checkout`). Both raise FailedPreconditionError, after everything
else was transferred, listing the artifacts whose bytes could not be moved and why.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mltrail._project import project_root
from mltrail.data._oid import Oid
from mltrail.data._select import Holding, holdings, select_artifacts
from mltrail.data.cache import Cache, default_cache_dir
from mltrail.data.odb import ObjectStore, default_jobs, open_remote
from mltrail.data.transfer import Progress, TransferReport, transfer
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, MltrailError
from mltrail.model import Artifact, Context

__all__ = ["pull", "push"]

#: Artifacts named one by one in an error message; the rest are counted.
LISTED = 10


def _remote(remote: ObjectStore | str) -> ObjectStore:
    if isinstance(remote, ObjectStore):
        return remote
    if isinstance(remote, str):
        return open_remote(remote)
    raise InvalidArgumentError(f"a data remote is an ObjectStore or a URL, got {remote!r}")


def _by_oid(chosen: list[Holding]) -> dict[Oid, list[Holding]]:
    found: dict[Oid, list[Holding]] = {}
    for holding in chosen:
        found.setdefault(holding.oid, []).append(holding)
    return found


def push(
    store: Any,
    remote: ObjectStore | str,
    *,
    artifacts: Sequence[Artifact | int | str] | None = None,
    context: Context | int | str | None = None,
    cache: Cache | None = None,
    root: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """Sends the bytes of the chosen artifacts (``artifacts``: artifacts, ids or external ids;
    ``context``: a pipeline's or stage's artifacts; neither: every artifact with bytes) to
    ``remote``, through the cache. Objects the remote has are not sent again."""
    destination = _remote(remote)
    base = Path(os.path.abspath(root)) if root is not None else project_root()
    cache = cache if cache is not None else Cache(default_cache_dir(base))
    wanted = _by_oid(holdings(select_artifacts(store, artifacts, context)))
    in_cache = cache.exists_many(wanted, jobs=jobs)
    reasons: dict[Oid, str] = {}
    lacking = sorted(set(wanted) - in_cache)

    def add(oid: Oid) -> None:
        reason = _add_from_work_tree(cache, oid, wanted[oid], base)
        if reason is not None:
            reasons[oid] = reason

    if lacking:
        with ThreadPoolExecutor(min(len(lacking), jobs or default_jobs())) as pool:
            list(pool.map(add, lacking))
    at_remote = destination.exists_many(reasons, jobs=jobs) if reasons else set()
    report = transfer(cache, destination, set(wanted) - set(reasons), jobs=jobs, progress=progress)
    report.skipped += len(at_remote)
    nowhere = {oid: why for oid, why in reasons.items() if oid not in at_remote}
    for oid in report.missing:
        nowhere.setdefault(oid, f"not in the cache {cache.root}")
    if nowhere or report.failed:
        parts = []
        if nowhere:
            parts.append(_listing(nowhere, wanted, "are in neither the cache nor the remote"))
        if report.failed:
            parts.append(_listing(report.failed, wanted, "failed to arrive"))
        raise FailedPreconditionError(
            _summary("pushed", "to", report, destination)
            + ". ".join(parts)
            + ". Then push again: what arrived is not sent twice"
        )
    return report


def pull(
    store: Any,
    remote: ObjectStore | str,
    *,
    artifacts: Sequence[Artifact | int | str] | None = None,
    context: Context | int | str | None = None,
    cache: Cache | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """Fetches the bytes of the chosen artifacts (chosen as in :func:`push`) from ``remote``
    into the cache (default: the project's), every object verified."""
    source = _remote(remote)
    cache = cache if cache is not None else Cache()
    wanted = _by_oid(holdings(select_artifacts(store, artifacts, context)))
    report = transfer(source, cache, wanted, jobs=jobs, progress=progress)
    if report.missing or report.failed:
        parts = []
        if report.missing:
            missing = {oid: "" for oid in report.missing}
            parts.append(
                _listing(missing, wanted, "are not at the remote")
                + "; push them from a site that has them"
            )
        if report.failed:
            parts.append(_listing(report.failed, wanted, "failed to arrive"))
        raise FailedPreconditionError(
            _summary("pulled", "from", report, source)
            + ". ".join(parts)
            + ". Then pull again: what arrived is not fetched twice"
        )
    return report


def _add_from_work_tree(cache: Cache, oid: Oid, held: list[Holding], base: Path) -> str | None:
    """Adds ``oid`` to the cache from one of its recorded paths; None, or why it could not."""
    paths = [path for holding in held for path in holding.paths]
    reasons = []
    for recorded in dict.fromkeys(paths):
        path = Path(recorded) if os.path.isabs(recorded) else base / recorded
        if not os.path.exists(path):
            reasons.append(f"{recorded} does not exist under {base}; restore it")
            continue
        try:
            cache.add(path, oid)
        except MltrailError as exc:
            reasons.append(exc.message)
            continue
        return None
    if not paths:
        return f"{oid} is not in the cache and no path is recorded for it"
    return "; ".join(reasons)


def _summary(verb: str, preposition: str, report: TransferReport, remote: ObjectStore) -> str:
    return (
        f"{verb} {report.transferred} object(s) ({report.bytes} bytes) {preposition} "
        f"{remote.url} ({report.skipped} already there), but "
    )


def _listing(problems: dict[Oid, str], wanted: dict[Oid, list[Holding]], what: str) -> str:
    lines = []
    for oid in sorted(problems)[:LISTED]:
        owners = wanted.get(oid)
        label = owners[0].label if owners else f"a file of a directory ({oid})"
        lines.append(f"{label}: {problems[oid]}" if problems[oid] else label)
    more = f" (and {len(problems) - LISTED} more)" if len(problems) > LISTED else ""
    return f"{len(problems)} object(s) {what}{more}: " + "; ".join(lines)
