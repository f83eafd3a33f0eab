"""An artifact's bytes made present at a path: the object found in the cache (pulled from a
remote first when missing), then checked out. Shared by ``Run.fetch`` and ``mltrail artifact
checkout``.

Only artifacts with bytes can be fetched: files and directories, whose ``external_id`` is their
digest (``sha256:<hex>``, ``md5:<hex>.dir``, ...) and whose ``kind`` property says so, and data
slices, whose members are files with digests of their own. Metrics and environments are
documents, with no bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.model import Artifact

if TYPE_CHECKING:
    from mltrail.data import Cache, ObjectStore, Oid
    from mltrail.store import MetadataStore

#: The values of an artifact's ``kind`` property that mean it has bytes.
KINDS_WITH_BYTES = ("file", "directory")


def find_artifact(store: MetadataStore, given: Artifact | int | str) -> Artifact:
    """The stored artifact ``given`` stands for: an artifact, an id, digits, or an external id
    (a content digest)."""
    if isinstance(given, Artifact):
        if given.id is not None:
            return _one(store.get_artifacts_by_id([given.id]), f"artifact {given.id}")
        if given.external_id:
            given = given.external_id
        else:
            raise InvalidArgumentError("the artifact has neither an id nor an external id")
    if isinstance(given, bool) or not isinstance(given, (int, str)):
        raise InvalidArgumentError(
            f"expected an artifact, an artifact id or a digest, got {type(given).__name__}"
        )
    if isinstance(given, int) or given.isdigit():
        return _one(store.get_artifacts_by_id([int(given)]), f"artifact {given}")
    from mltrail.data import Oid

    Oid.parse(given)  # a bad digest is an InvalidArgumentError of its own
    return _one(store.get_artifacts_by_external_ids([given]), f"an artifact of digest {given}")


def artifact_oid(artifact: Artifact) -> Oid:
    """The object holding a file's or directory's bytes; InvalidArgumentError for others."""
    from mltrail.data import Oid

    kind = artifact.properties.get("kind")
    if kind not in KINDS_WITH_BYTES or not artifact.external_id:
        raise InvalidArgumentError(
            f"artifact {artifact.id} ({artifact.type}) has no bytes of its own: only files, "
            "directories and data slices (their member files) are fetched"
        )
    return Oid.parse(artifact.external_id)


def recorded_path(artifact: Artifact, root: Path) -> Path:
    """Where ``artifact`` was logged: its ``path`` property, under ``root`` when relative."""
    path = artifact.properties.get("path") or artifact.uri
    if not isinstance(path, str) or not path:
        raise InvalidArgumentError(
            f"artifact {artifact.id} records no path: say where its bytes go (to=PATH)"
        )
    return _under(root, path)


def placements(
    artifact: Artifact, to: Path | None, root: Path
) -> tuple[Path, list[tuple[Oid, Path]]]:
    """Where ``artifact``'s bytes go, and each object with its path: a file or a directory at
    ``to`` (default: where it was logged); a data slice's members at their recorded paths
    below ``to`` (default: ``root``)."""
    from mltrail.data import Oid

    members = artifact.properties.get("files")
    if artifact.properties.get("kind") in KINDS_WITH_BYTES or not isinstance(members, list):
        oid = artifact_oid(artifact)
        target = to if to is not None else recorded_path(artifact, root)
        return target, [(oid, target)]
    base = to if to is not None else root
    placed = []
    for member in members:
        if not isinstance(member, dict) or not isinstance(member.get("path"), str):
            raise InvalidArgumentError(f"data slice {artifact.id} has a malformed member")
        path = member["path"]
        where = base / Path(path).name if to is not None and os.path.isabs(path) else None
        placed.append((Oid.parse(str(member.get("digest"))), where or _under(base, path)))
    return base, placed


def _under(root: Path, path: str) -> Path:
    """``path`` (as recorded, maybe at another site) placed under ``root``. A recorded path is
    metadata anyone who pushed could have written: one that leads outside ``root`` (absolute
    elsewhere, or climbing with ``..``) is refused rather than written to."""
    base = Path(os.path.abspath(root))
    target = Path(os.path.abspath(base / path))
    if target != base and base not in target.parents:
        raise InvalidArgumentError(
            f"the recorded path {path!r} leads outside {base}: nothing is written there by "
            "default; say where the bytes go (to=PATH, or --to PATH)"
        )
    return target


def present(
    cache: Cache,
    oids: list[Oid],
    remote: ObjectStore | None,
    *,
    jobs: int | None = None,
    progress: Any = None,
) -> Any:
    """Make ``oids`` present in ``cache``: those missing are pulled from ``remote`` (verified).
    Returns the transfer's report (None when nothing was missing)."""
    from mltrail.data import transfer

    missing = [oid for oid in oids if not cache.has(oid)]
    if not missing:
        return None
    if remote is None:
        names = ", ".join(oid.external_id for oid in missing)
        raise NotFoundError(
            f"{names} is not in the cache at {cache.root} and no remote is given: pull it "
            "(mltrail artifact pull REMOTE), or name a remote with a data end"
        )
    report = transfer(remote, cache, missing, jobs=jobs, progress=progress)
    if report.missing or report.failed:
        lacking = ", ".join(oid.external_id for oid in report.missing)
        failures = "; ".join(f"{oid.external_id}: {why}" for oid, why in report.failed.items())
        raise FailedPreconditionError(
            f"cannot fetch from {remote.url}: "
            + (f"it lacks {lacking} (push it there from a site that has it)" if lacking else "")
            + ("; " if lacking and failures else "")
            + failures
        )
    return report


def _one(found: list[Artifact], what: str) -> Artifact:
    if not found:
        raise NotFoundError(f"there is no {what} in the store; check the id or the digest")
    return found[0]
