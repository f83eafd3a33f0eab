"""Materializing an object from the cache at a path of the work tree.

:func:`checkout` writes a file object at ``dest``, or every file of a directory manifest below
``dest``. Each file is written to a temporary beside its destination and renamed, so a reader
sees the old file or the new one, never a mix. An existing file with the same content is left
alone; one with different content is refused (FailedPreconditionError, nothing written) unless
``force=True``. Files of ``dest`` that the manifest does not list are left alone.

Link modes: ``"copy"`` (a streamed copy, writable), ``"reflink"`` (blocks shared with the cache
copy-on-write; FailedPreconditionError where the filesystem cannot), ``"hardlink"`` (the cache
file itself, read-only: editing it in place would corrupt the cache, so replace it instead) and
``"auto"`` (reflink, else copy).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from mltrail.data import _files
from mltrail.data._oid import Oid
from mltrail.data.cache import Cache
from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError

__all__ = ["LINK_MODES", "CheckoutReport", "checkout"]

LINK_MODES = ("auto", "copy", "reflink", "hardlink")


@dataclass
class CheckoutReport:
    """What :func:`checkout` did at ``path``: files written and files already identical."""

    path: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def checkout(
    cache: Cache,
    oid: Oid | str,
    dest: str | os.PathLike[str],
    *,
    link: str = "auto",
    force: bool = False,
) -> CheckoutReport:
    """Writes the object ``oid`` of ``cache`` at ``dest`` (a file, or a directory's files).

    NotFoundError when the cache lacks the object or one of the directory's files (pull it
    first); FailedPreconditionError when an existing file differs and ``force`` is false, or
    ``link="reflink"`` is impossible here. Every conflict is found before anything is written.
    """
    if link not in LINK_MODES:
        raise InvalidArgumentError(f"link must be one of {', '.join(LINK_MODES)}, got {link!r}")
    oid = Oid.parse(oid) if isinstance(oid, str) else oid
    target = Path(os.path.abspath(dest))
    if oid.is_dir:
        if not cache.has(oid):
            raise NotFoundError(_absent(cache, oid))
        plan = [(relpath, target / relpath, member) for relpath, member in cache.read_manifest(oid)]
        if target.exists() and not target.is_dir():
            if not force:
                raise FailedPreconditionError(
                    f"{target} is a file but {oid} is a directory; remove it or pass force=True"
                )
            os.unlink(target)
    else:
        plan = [(target.name, target, oid)]
    absent = [member for _, _, member in plan if not cache.has(member)]
    if absent:
        raise NotFoundError(_absent(cache, absent[0], len(absent)))

    report = CheckoutReport(target)
    todo: list[tuple[str, Path, Oid]] = []
    differing: list[str] = []
    for relpath, path, member in plan:
        state = _existing(path, member, cache)
        if state == "same":
            report.unchanged.append(relpath)
        else:
            if state == "different":
                differing.append(relpath)
            todo.append((relpath, path, member))
    if differing and not force:
        raise FailedPreconditionError(
            f"{len(differing)} existing file(s) at {target} differ from {oid} (first: "
            f"{differing[0]}); nothing was written. Move them away, or pass force=True to "
            "overwrite them"
        )
    for relpath, path, member in todo:
        _materialize(cache.local_path(member), path, link)
        report.written.append(relpath)
    return report


def _existing(path: Path, oid: Oid, cache: Cache) -> str:
    """ "absent", "same" (same bytes as the object) or "different"."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "absent"
    if not stat.S_ISREG(st.st_mode):
        return "different"
    cached = os.stat(cache.local_path(oid))
    if (st.st_dev, st.st_ino) == (cached.st_dev, cached.st_ino):
        return "same"  # a hard link to the cache file
    if st.st_size != cached.st_size:
        return "different"
    hasher, _ = _files.hash_file(path, oid.algorithm)
    return "same" if hasher.hexdigest() == oid.hexdigest else "different"


def _materialize(source: Path, path: Path, link: str) -> None:
    """Puts the cache file ``source`` at ``path`` through a temporary beside it."""
    if path.is_dir():
        raise FailedPreconditionError(f"{path} is a directory; remove it to write a file there")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _files.temporary_beside(path)
    try:
        if link == "hardlink":
            try:
                os.link(source, temporary)
            except OSError as exc:
                raise FailedPreconditionError(
                    f"cannot hard-link {path} to the cache ({exc.strerror}): the cache must be "
                    "on the same filesystem; use link='copy'"
                ) from None
        elif link in ("reflink", "auto"):
            try:
                _files.reflink(source, temporary)
            except OSError as exc:
                if link == "reflink":
                    raise FailedPreconditionError(
                        f"cannot reflink {path} ({exc.strerror}): this filesystem does not share "
                        "blocks between files; use link='copy' or 'auto'"
                    ) from None
                _copy(source, temporary)
            os.chmod(temporary, 0o644)
        else:
            _copy(source, temporary)
        os.replace(temporary, path)
    except BaseException:
        _files.remove_quietly(temporary)
        raise


def _copy(source: Path, temporary: Path) -> None:
    _files.copy_file(source, temporary)
    os.chmod(temporary, 0o644)


def _absent(cache: Cache, oid: Oid, count: int = 1) -> str:
    more = f" and {count - 1} more" if count > 1 else ""
    return f"object {oid}{more} is not in the cache {cache.root}; pull it from a remote first"
