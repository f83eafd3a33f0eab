"""Object ids: the digest that names an object, and the one mapping from an id to its path.

An object is a file's bytes or a directory's manifest, named by its digest. The text form is the
artifact's external id: ``sha256:<64 hex>``, ``md5:<32 hex>``, with a ``.dir`` suffix for a
directory manifest. Its path in a cache or a remote is ``files/<algorithm>/<hex[:2]>/<hex[2:]>``
(plus ``.dir``): with md5 this is exactly DVC 3's cache and remote layout, so a DVC remote or a
``.dvc/cache`` directory reads as an mltrail remote. :func:`oid_to_path` and
:func:`path_to_oid` are the only places that know the layout.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from mltrail.errors import InvalidArgumentError

__all__ = ["ALGORITHMS", "DIR_SUFFIX", "FILES", "Oid", "oid_to_path", "path_to_oid"]

#: Digest algorithms and the length of their hex digests.
ALGORITHMS: dict[str, int] = {"sha256": 64, "md5": 32}

#: The suffix of a directory manifest's id and path.
DIR_SUFFIX = ".dir"

#: The top directory of the object layout.
FILES = "files"

_HEX = frozenset(string.hexdigits.lower())


@dataclass(frozen=True, order=True)
class Oid:
    """The id of one object: its digest algorithm, lower-case hex digest and whether it is a
    directory manifest. Build one with :meth:`parse` (or directly, which checks the same)."""

    algorithm: str
    hexdigest: str
    is_dir: bool = False

    def __post_init__(self) -> None:
        length = ALGORITHMS.get(self.algorithm)
        if length is None:
            raise InvalidArgumentError(
                f"unknown digest algorithm {self.algorithm!r}; use one of "
                f"{', '.join(sorted(ALGORITHMS))}"
            )
        if len(self.hexdigest) != length or not set(self.hexdigest) <= _HEX:
            raise InvalidArgumentError(
                f"{self.hexdigest!r} is not a {self.algorithm} digest: expected {length} "
                "lower-case hex characters"
            )

    @classmethod
    def parse(cls, text: str) -> Oid:
        """The id written as ``<algorithm>:<hex>`` or ``<algorithm>:<hex>.dir`` (an artifact's
        external id). Hex digits may be in either case. InvalidArgumentError on anything else."""
        if not isinstance(text, str):
            raise InvalidArgumentError(f"expected an object id as text, got {type(text).__name__}")
        algorithm, colon, value = text.partition(":")
        if not colon:
            raise InvalidArgumentError(
                f"{text!r} is not an object id; expected '<algorithm>:<hex digest>' such as "
                "'sha256:…' or 'md5:….dir'"
            )
        is_dir = value.endswith(DIR_SUFFIX)
        if is_dir:
            value = value[: -len(DIR_SUFFIX)]
        return cls(algorithm, value.lower(), is_dir)

    @property
    def value(self) -> str:
        """The hex digest with ``.dir`` for a directory (DVC's ``md5`` field)."""
        return self.hexdigest + (DIR_SUFFIX if self.is_dir else "")

    @property
    def external_id(self) -> str:
        """``<algorithm>:<hex>[.dir]``: the external id of the artifact whose bytes this is."""
        return f"{self.algorithm}:{self.value}"

    @property
    def path(self) -> str:
        """The object's path relative to a store root (see :func:`oid_to_path`)."""
        return oid_to_path(self)

    def file(self, hexdigest: str) -> Oid:
        """The id of a member file of this directory, from its manifest digest."""
        return Oid(self.algorithm, hexdigest.lower(), False)

    def __str__(self) -> str:
        return self.external_id


def oid_to_path(oid: Oid) -> str:
    """``files/<algorithm>/<hex[:2]>/<hex[2:]>`` (``.dir`` appended for a directory): the one
    place that builds object paths."""
    return f"{FILES}/{oid.algorithm}/{oid.hexdigest[:2]}/{oid.hexdigest[2:]}" + (
        DIR_SUFFIX if oid.is_dir else ""
    )


def path_to_oid(path: str) -> Oid | None:
    """The id of an object from its path relative to a store root, or None when the path is not
    an object's (a temporary, a stray file, a different layout)."""
    parts = path.strip("/").split("/")
    if len(parts) != 4 or parts[0] != FILES or len(parts[2]) != 2:
        return None
    algorithm, prefix, rest = parts[1], parts[2], parts[3]
    is_dir = rest.endswith(DIR_SUFFIX)
    if is_dir:
        rest = rest[: -len(DIR_SUFFIX)]
    try:
        return Oid(algorithm, prefix + rest, is_dir)
    except InvalidArgumentError:
        return None
