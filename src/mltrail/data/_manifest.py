"""Directory manifests: the walk that lists a directory's files and the bytes that are hashed.

A directory's digest is the hash of its manifest, DVC's ``.dir`` format: the JSON list, sorted by
path, of ``{"<algorithm>": <file hex digest>, "relpath": <POSIX path inside the directory>}`` for
every regular file below it, serialized with ``json.dumps(..., sort_keys=True)`` and encoded as
UTF-8. The same bytes are what a directory object (``<hex>.dir``) holds in a cache or a remote, so
verifying a manifest is hashing it like any other object.

:func:`walk_files` is the one directory walk: tracking hashes what it yields and the cache copies
what it yields, so both see the same files under the same relative paths.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mltrail.errors import InvalidArgumentError, NotFoundError

__all__ = ["ManifestEntry", "manifest_bytes", "parse_manifest", "stat_path", "walk_files"]

#: One file of a directory: (POSIX path inside the directory, hex digest of its bytes).
ManifestEntry = tuple[str, str]


def stat_path(path: str) -> os.stat_result:
    """``os.stat`` (following links) with typed errors: NotFoundError for a missing path,
    InvalidArgumentError for a loop of links, an unreadable entry or an invalid path."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise NotFoundError(f"{path} does not exist; log files that exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidArgumentError(
                f"{path} is a loop of symbolic links; point the link at a file or a directory"
            ) from None
        raise InvalidArgumentError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # an embedded NUL character
        raise InvalidArgumentError(f"{path!r} is not a valid path: {exc}") from None


def walk_files(root: str, root_stat: os.stat_result) -> Iterator[tuple[str, str, os.stat_result]]:
    """(POSIX relative path, absolute path, stat) of every regular file below ``root``.

    Symbolic links are followed, to files and to directories alike, and appear under their own
    path inside ``root``. A link to a directory that is being walked (the directory itself or one
    of its parents) would make the walk endless: it is an error. Dangling links and entries that
    are neither files nor directories (sockets, pipes, devices) are left out. Entries come in
    name order within each directory.
    """
    active: set[tuple[int, int]] = {(root_stat.st_dev, root_stat.st_ino)}

    def walk(directory: str, prefix: str) -> Iterator[tuple[str, str, os.stat_result]]:
        try:
            with os.scandir(directory) as scan:
                children = sorted((entry.name, entry.path) for entry in scan)
        except OSError as exc:
            raise InvalidArgumentError(f"cannot list {directory}: {exc.strerror}") from None
        for name, path in children:
            try:
                st = stat_path(path)
            except NotFoundError:  # a dangling symbolic link, or removed while walking
                continue
            relpath = prefix + name
            if stat.S_ISREG(st.st_mode):
                yield relpath, path, st
            elif stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in active:
                    raise InvalidArgumentError(
                        f"{path} leads back to a directory that contains it (a loop of symbolic "
                        "links); remove the link or point it outside the tracked directory"
                    )
                active.add(key)
                yield from walk(path, relpath + "/")
                active.discard(key)

    yield from walk(root, "")


def manifest_bytes(entries: Iterable[ManifestEntry], algorithm: str) -> bytes:
    """The exact bytes of a directory manifest (what is hashed and what the ``.dir`` object holds).

    ``entries`` are (relative POSIX path, hex digest) pairs in any order; they are sorted by path.
    """
    manifest = [{algorithm: hexdigest, "relpath": relpath} for relpath, hexdigest in entries]
    manifest.sort(key=lambda item: item["relpath"])
    return json.dumps(manifest, sort_keys=True).encode("utf-8")


def parse_manifest(data: bytes, algorithm: str, *, name: str = "manifest") -> list[ManifestEntry]:
    """The (relative path, hex digest) entries of manifest bytes, checked for shape.

    A relative path that is absolute or climbs out of the directory (``..``), or an entry without
    a digest of ``algorithm``, makes the manifest invalid (InvalidArgumentError naming ``name``):
    materializing it could write outside the destination.
    """
    try:
        document: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name} is not a directory manifest: {exc}") from None
    if not isinstance(document, list):
        raise InvalidArgumentError(f"{name} is not a directory manifest (expected a JSON list)")
    entries: list[ManifestEntry] = []
    for item in document:
        if not isinstance(item, Mapping):
            raise InvalidArgumentError(f"{name} has an entry that is not an object: {item!r}")
        relpath, hexdigest = item.get("relpath"), item.get(algorithm)
        if not isinstance(relpath, str) or not isinstance(hexdigest, str):
            raise InvalidArgumentError(
                f"{name} has an entry without 'relpath' and an {algorithm!r} digest: {item!r}"
            )
        parts = relpath.split("/")
        if not relpath or relpath.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise InvalidArgumentError(
                f"{name} has an unsafe relative path {relpath!r}; it must stay inside the directory"
            )
        entries.append((relpath, hexdigest.lower()))
    return entries
