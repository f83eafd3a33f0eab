"""Named remotes: the other ends a working tree pushes to and pulls from, by name.

They are kept in ``.mltrail/config.toml``, next to the working tree's default store::

    [remote.central]
    url = "https://ml.example.org/p/vision"
    token_env = "VISION_TOKEN"        # optional: the variable that holds its token

A remote's URL is anything :func:`mltrail.sync.push` takes as an end: an mltrail server URL
(``http://host:port``, ``http://host:port/p/<project>``), a store URL or path, or a bundle file
(``*.mltrail``). Its token never goes into the file: ``token_env`` names the environment variable
that holds it (without one, ``$MLTRAIL_TOKEN`` is used, as everywhere).

``mltrail remote add|list|remove`` are shells over :func:`add`, :func:`remotes` and
:func:`remove`; ``mltrail push|pull|sync`` find their end with :func:`resolve`.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mltrail.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)

#: The file of the remote list, in the working tree's ``.mltrail`` directory.
CONFIG_FILE = "config.toml"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class Remote:
    """A remote: its ``name`` (None for an end given by its URL or path), its ``url``, and
    ``token_env``, the environment variable holding its token (None: ``$MLTRAIL_TOKEN``)."""

    name: str | None
    url: str
    token_env: str | None = None

    def token(self) -> str | None:
        """The token from ``token_env``; None when the remote names no variable."""
        if self.token_env is None:
            return None
        value = os.environ.get(self.token_env, "").strip()
        if not value:
            raise FailedPreconditionError(
                f"remote {self.name!r} takes its token from ${self.token_env}, which is not set; "
                f"set it to a token of the server (export {self.token_env}=mlt_...)"
            )
        return value

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "url": self.url, "token_env": self.token_env}


def config_path(start: str | os.PathLike[str] | None = None) -> Path:
    """``.mltrail/config.toml`` of the working tree around ``start`` (default: the current
    directory)."""
    from mltrail._project import DIRECTORY, project_root

    return project_root(start) / DIRECTORY / CONFIG_FILE


def remotes(*, path: str | os.PathLike[str] | None = None) -> dict[str, Remote]:
    """The configured remotes by name (sorted)."""
    file = Path(path) if path is not None else config_path()
    table = _read(file).get("remote", {})
    if not isinstance(table, dict):
        raise _malformed(file, "'remote' must be a table of [remote.NAME] tables")
    found: dict[str, Remote] = {}
    for name in sorted(table):
        entry = table[name]
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise _malformed(file, f'[remote.{name}] needs url = "..."')
        token_env = entry.get("token_env")
        if token_env is not None and not isinstance(token_env, str):
            raise _malformed(file, f"[remote.{name}] token_env must be a string")
        found[name] = Remote(name, entry["url"], token_env)
    return found


def add(
    name: str,
    url: str,
    *,
    token_env: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Remote:
    """Add remote ``name`` at ``url`` (a server URL, a store URL or path, a bundle path; a
    path is kept absolute). AlreadyExistsError when the name is taken."""
    _check_name(name)
    if token_env is not None and not (
        isinstance(token_env, str) and _VARIABLE.fullmatch(token_env)
    ):
        raise InvalidArgumentError(
            f"token_env {token_env!r} is not an environment variable name (letters, digits and "
            "'_', not starting with a digit)"
        )
    file = Path(path) if path is not None else config_path()
    document = _read(file)
    table = document.setdefault("remote", {})
    if name in table:
        raise AlreadyExistsError(
            f"remote {name!r} exists already (url {table[name].get('url')!r}); remove it first "
            f"(mltrail remote remove {name})"
        )
    remote = Remote(name, _normalized(url), token_env)
    entry = {"url": remote.url}
    if token_env is not None:
        entry["token_env"] = token_env
    table[name] = entry
    _write(file, document)
    return remote


def remove(name: str, *, path: str | os.PathLike[str] | None = None) -> Remote:
    """Remove remote ``name``; NotFoundError (listing the known ones) when there is none."""
    file = Path(path) if path is not None else config_path()
    known = remotes(path=file)
    if name not in known:
        raise _unknown(name, known)
    document = _read(file)
    del document["remote"][name]
    _write(file, document)
    return known[name]


def resolve(name_or_url: str | None, *, path: str | os.PathLike[str] | None = None) -> Remote:
    """The end ``name_or_url`` stands for: a configured remote by name, else a URL or a path
    as given. None: the only configured remote (an error when there are none or several)."""
    known = remotes(path=path)
    if name_or_url is None:
        if len(known) == 1:
            return next(iter(known.values()))
        if not known:
            raise NotFoundError(
                "no remote is configured: name the other end (a server URL, a store, a bundle "
                "file), or add a remote with: mltrail remote add NAME URL"
            )
        raise InvalidArgumentError(
            f"{len(known)} remotes are configured ({', '.join(known)}): name the one to use"
        )
    if not isinstance(name_or_url, str) or not name_or_url.strip():
        raise InvalidArgumentError(f"expected a remote name, a URL or a path, got {name_or_url!r}")
    if name_or_url in known:
        return known[name_or_url]
    if _NAME.fullmatch(name_or_url) and not Path(name_or_url).exists():
        raise _unknown(name_or_url, known)
    return Remote(None, name_or_url)


# ----------------------------------------------------------------------------------- helpers


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"remote name {name!r} is not valid: use 1 to 63 letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return name


def _normalized(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError(f"a remote needs a URL or a path, got {url!r}")
    url = url.strip()
    if "://" not in url:
        return str(Path(os.path.abspath(os.path.expanduser(url))))  # a store file or a bundle
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https"):
        if not parts.hostname:
            raise InvalidArgumentError(
                f"cannot use {url!r} as a server URL: it has no host; expected "
                "http://host:port or http://host:port/p/<project>"
            )
        if parts.username or parts.password:
            raise InvalidArgumentError(
                f"the URL {parts.scheme}://{parts.hostname}... holds credentials: a token "
                "belongs in an environment variable (--token-env VARIABLE), never in the "
                "remote list"
            )
        if parts.query or parts.fragment:
            raise InvalidArgumentError(
                f"a server URL takes no query or fragment, got {url!r}: give "
                "http://host:port or http://host:port/p/<project>"
            )
        return url.rstrip("/")
    return url


def _unknown(name: str, known: dict[str, Remote]) -> NotFoundError:
    names = ", ".join(known) if known else "none is configured"
    return NotFoundError(
        f"there is no remote named {name!r} (known remotes: {names}); add it with: mltrail "
        f"remote add {name} URL"
    )


def _toml() -> Any:
    return importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")


def _read(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    toml = _toml()
    try:
        return dict(toml.loads(text))
    except toml.TOMLDecodeError as exc:
        raise _malformed(file, str(exc)) from None


def _write(file: Path, document: dict[str, Any]) -> None:
    import tomli_w

    from mltrail._project import DIRECTORY, state_directory

    if file.parent.name == DIRECTORY:
        state_directory(file.parent.parent)  # with its .gitignore
    file.parent.mkdir(parents=True, exist_ok=True)
    if not document.get("remote"):
        document.pop("remote", None)
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    temporary.write_text(tomli_w.dumps(document), encoding="utf-8")
    os.replace(temporary, file)


def _malformed(file: Path, what: str) -> FailedPreconditionError:
    return FailedPreconditionError(
        f"{file} is not a valid mltrail config: {what}; fix it or remove the entry (it is plain "
        "TOML)"
    )


__all__ = ["Remote", "add", "config_path", "remotes", "remove", "resolve"]
