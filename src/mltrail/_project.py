"""Where a project lives: its root, its ``.mltrail`` directory and its default store.

The project root is the work tree root of the git repository around the current directory, or the
current directory when there is none. mltrail keeps its local files in ``<root>/.mltrail/``: the
default SQLite store ``mltrail.db`` and the hash memo. The directory gets a ``.gitignore`` of its
own so that its files are never committed by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

from mltrail.errors import InvalidArgumentError

STORE_ENV = "MLTRAIL_STORE"
"""Environment variable naming the store (a URL or a path) when none is given."""

DIRECTORY = ".mltrail"
STORE_FILE = "mltrail.db"
MEMO_FILE = "hash-memo.db"


def find_git_dir_holder(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding a ``.git`` entry, or None."""
    current = Path(os.path.abspath(start))
    for candidate in (current, *current.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The git work tree root around ``start`` (default: the current directory), else ``start``."""
    base = Path(start) if start is not None else Path.cwd()
    return find_git_dir_holder(base) or Path(os.path.abspath(base))


def state_directory(root: Path) -> Path:
    """``<root>/.mltrail``, created (with a ``.gitignore`` of ``*``) when missing."""
    directory = root / DIRECTORY
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# mltrail's local files: never commit them\n*\n", encoding="utf-8")
    return directory


def default_store_location(root: Path) -> str:
    """``$MLTRAIL_STORE`` when set, else the SQLite file under ``<root>/.mltrail/``."""
    configured = os.environ.get(STORE_ENV, "").strip()
    if configured:
        return configured
    return str(state_directory(root) / STORE_FILE)


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute against the current directory, with ``..`` folded.

    An empty path is refused rather than read as the current directory: ``log_dataset("")``
    is a mistake (an unset variable), not a request to hash the whole working directory.
    """
    try:
        text = os.fspath(path)
    except TypeError:
        raise InvalidArgumentError(
            f"expected a path (a str or os.PathLike), got {type(path).__name__}"
        ) from None
    if isinstance(text, bytes):
        raise InvalidArgumentError("give paths as str or os.PathLike[str], not bytes")
    if not text:
        raise InvalidArgumentError(
            'the path is empty; give a file or directory (use "." for the current directory)'
        )
    return Path(os.path.abspath(text))


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form when inside it, else absolute POSIX form.

    Symbolic links are resolved only when the path does not lie under the root as written.
    """
    for candidate, base in ((path, root), (path.resolve(), root.resolve())):
        try:
            return candidate.relative_to(base).as_posix() or "."
        except ValueError:
            continue
    return path.as_posix()
