"""Named remotes: the other ends a working tree pushes to and pulls from, by name.

They are kept in ``.mltrail/config.toml``, next to the working tree's default store::

    [remote.central]
    url = "https://ml.example.org/p/vision"   # the metadata end (mltrail push|pull|sync)
    data = "s3://ml-artifacts/vision"          # the data end (artifact bytes)
    token_env = "VISION_TOKEN"                 # optional: the variable that holds its token
    [remote.central.data_options]              # optional: options of the data end's filesystem
    endpoint_url = "http://127.0.0.1:8333"

A remote has a metadata end, a data end or both (its :attr:`Remote.kind`). The metadata end
(``url``) is anything :func:`mltrail.sync.push` takes as an end: an mltrail server URL
(``http://host:port``, ``http://host:port/p/<project>``), a store URL or path, or a bundle file
(``*.mltrail``). The data end (``data``) is where artifact bytes go (:mod:`mltrail.data`): a
local directory, ``s3://bucket/prefix``, ``ssh://user@host/path``, ... (any fsspec URL), with
``data_options`` for its filesystem. Its token never goes into the file: ``token_env`` names
the environment variable that holds it (without one, ``$MLTRAIL_TOKEN`` is used, as
everywhere); credentials of a data end come from where its filesystem looks for them (AWS
variables and profiles, SSH keys), never from this file either.

``mltrail remote add|list|remove`` are shells over :func:`add`, :func:`remotes` and
:func:`remove`; ``mltrail push|pull|sync`` find their end with :func:`resolve`, ``mltrail
artifact push|pull|checkout`` theirs with :func:`resolve_data`.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from mltrail.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)

if TYPE_CHECKING:
    from mltrail.data import ObjectStore

#: The file of the remote list, in the working tree's ``.mltrail`` directory.
CONFIG_FILE = "config.toml"

#: What a remote holds: ``metadata`` (a url), ``data`` (a data end) or ``both``.
Kind = Literal["metadata", "data", "both"]
KINDS: tuple[Kind, ...] = ("metadata", "data", "both")

#: URL schemes of data ends (fsspec filesystems that hold artifact bytes).
DATA_SCHEMES = frozenset(
    {
        "s3",
        "s3a",
        "gs",
        "gcs",
        "az",
        "abfs",
        "abfss",
        "adl",
        "ssh",
        "sftp",
        "file",
        "local",
        "memory",
        "hdfs",
        "webhdfs",
        "oss",
    }
)

#: Option names that hold credentials: they belong in the environment, never in the file.
SECRET_OPTIONS = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "passphrase",
        "session_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "account_key",
        "sas_token",
        "client_secret",
    }
)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


@dataclass(frozen=True)
class Remote:
    """A remote: its ``name`` (None for an end given by its URL or path), its metadata end
    ``url`` (None for a data-only remote), ``token_env``, the environment variable holding the
    metadata end's token (None: ``$MLTRAIL_TOKEN``), its data end ``data`` (None for a
    metadata-only remote) and ``data_options``, the data end's filesystem options."""

    name: str | None
    url: str | None
    token_env: str | None = None
    data: str | None = None
    data_options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def kind(self) -> Kind:
        """``"metadata"``, ``"data"`` or ``"both"``: the ends the remote has."""
        if self.url is not None and self.data is not None:
            return "both"
        return "data" if self.data is not None else "metadata"

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

    def metadata_url(self) -> str:
        """The metadata end (what sync moves metadata with); FailedPreconditionError when the
        remote is data-only."""
        if self.url is None:
            raise FailedPreconditionError(
                f"remote {self.name!r} is data-only (data {self.data}): it holds artifact "
                "bytes, not metadata; move bytes with mltrail artifact push/pull, or sync with "
                "a remote that has a metadata end (mltrail remote list shows the kinds)"
            )
        return self.url

    def open_data(self) -> ObjectStore:
        """The data end opened (:func:`mltrail.data.open_remote` with ``data_options``);
        FailedPreconditionError when the remote is metadata-only."""
        if self.data is None:
            raise _no_data_end(self)
        from mltrail.data import open_remote

        return open_remote(self.data, dict(self.data_options))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "token_env": self.token_env,
            "data": self.data,
            "data_options": dict(self.data_options),
        }


def is_data_url(url: str) -> bool:
    """Whether ``url`` is a URL of a data scheme (``s3://``, ``ssh://``, ``file://``, ...)."""
    return "://" in url and url.split("://", 1)[0].strip().lower() in DATA_SCHEMES


def infer_kind(url: str) -> Kind:
    """What a URL given alone is the end of: ``"data"`` for fsspec filesystems (``s3://``,
    ``ssh://``, ``file://``, ...) and existing directories; ``"metadata"`` for server URLs,
    database URLs, store files and bundles (a path that does not exist yet is taken for a store
    file, unless it ends with ``/``)."""
    text = url.strip()
    if "://" in text:
        return "data" if is_data_url(text) else "metadata"
    if text.endswith(("/", os.sep)):
        return "data"
    path = Path(os.path.expanduser(text))
    return "data" if path.is_dir() else "metadata"


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
    return {name: _entry(file, name, table[name]) for name in sorted(table)}


def add(
    name: str,
    url: str | None,
    *,
    data: str | None = None,
    kind: Kind | None = None,
    data_options: Mapping[str, Any] | None = None,
    token_env: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Remote:
    """Add remote ``name``. ``url`` is the end its kind says (inferred by :func:`infer_kind`
    unless ``kind`` is given): a metadata end (a server URL, a store URL or path, a bundle
    path) or, for ``kind="data"``, a data end; ``data`` adds a data end to a metadata one
    (``kind="both"``). Paths are kept absolute. ``data_options`` are the data end's filesystem
    options (no credentials). AlreadyExistsError when the name is taken."""
    _check_name(name)
    metadata_end, data_end = _ends(url, data, kind)
    if token_env is not None:
        if not (isinstance(token_env, str) and _VARIABLE.fullmatch(token_env)):
            raise InvalidArgumentError(
                f"token_env {token_env!r} is not an environment variable name (letters, digits "
                "and '_', not starting with a digit)"
            )
        if metadata_end is None:
            raise InvalidArgumentError(
                "token_env is the token of a metadata end (a server), and this remote is "
                "data-only; a data end takes its credentials from its filesystem (AWS "
                "variables or profiles, SSH keys)"
            )
    options = _options(data_options)
    if options and data_end is None:
        raise InvalidArgumentError(
            f"data options ({', '.join(options)}) belong to a data end, and this remote has "
            "none; add one with --data URL"
        )
    file = Path(path) if path is not None else config_path()
    document = _read(file)
    table = document.setdefault("remote", {})
    if name in table:
        existing = table[name]
        where = existing.get("url") or existing.get("data") if isinstance(existing, dict) else None
        raise AlreadyExistsError(
            f"remote {name!r} exists already (url {where!r}); remove it first "
            f"(mltrail remote remove {name})"
        )
    remote = Remote(name, metadata_end, token_env, data_end, options)
    entry: dict[str, Any] = {}
    if metadata_end is not None:
        entry["url"] = metadata_end
    if token_env is not None:
        entry["token_env"] = token_env
    if data_end is not None:
        entry["data"] = data_end
    if options:
        entry["data_options"] = options
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
    """The metadata end ``name_or_url`` stands for: a configured remote by name (one with a
    metadata end: FailedPreconditionError for a data-only one), else a URL or a path as given
    (InvalidArgumentError for a data URL). None: the only configured remote with a metadata
    end (an error when there are none or several)."""
    known = remotes(path=path)
    if name_or_url is None:
        return _only(known, "metadata")
    _check_given(name_or_url)
    if name_or_url in known:
        chosen = known[name_or_url]
        chosen.metadata_url()  # refuses a data-only remote
        return chosen
    if _NAME.fullmatch(name_or_url) and not Path(name_or_url).exists():
        raise _unknown(name_or_url, known)
    if infer_kind(name_or_url) == "data":
        raise InvalidArgumentError(
            f"{name_or_url} is a data end (a place for artifact bytes), not a metadata one: "
            "metadata syncs with a server URL, a store URL or path, or a bundle file; move "
            "bytes there with mltrail artifact push"
        )
    return Remote(None, name_or_url)


def resolve_data(name_or_url: str | None, *, path: str | os.PathLike[str] | None = None) -> Remote:
    """The data end ``name_or_url`` stands for: a configured remote by name (one with a data
    end: FailedPreconditionError for a metadata-only one), else a data URL or a directory as
    given. None: the only configured remote with a data end (an error when there are none or
    several)."""
    known = remotes(path=path)
    if name_or_url is None:
        return _only(known, "data")
    _check_given(name_or_url)
    if name_or_url in known:
        chosen = known[name_or_url]
        if chosen.data is None:
            raise _no_data_end(chosen)
        return chosen
    if _NAME.fullmatch(name_or_url) and not Path(name_or_url).exists():
        unknown = _unknown(name_or_url, known)
        raise NotFoundError(
            f"{unknown.message}; a directory that does not exist yet is given as a path "
            f"(./{name_or_url})"
        )
    if not _may_be_data(name_or_url):
        raise InvalidArgumentError(
            f"{name_or_url} is not a data end: artifact bytes go to a directory or an fsspec "
            "URL (s3://bucket/prefix, ssh://user@host/path, file:///path); a server, a store or "
            "a bundle holds metadata (mltrail push)"
        )
    return Remote(None, None, data=_normalized_data(name_or_url))


# ----------------------------------------------------------------------------------- helpers


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"remote name {name!r} is not valid: use 1 to 63 letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return name


def _check_given(name_or_url: Any) -> None:
    if not isinstance(name_or_url, str) or not name_or_url.strip():
        raise InvalidArgumentError(f"expected a remote name, a URL or a path, got {name_or_url!r}")


def _only(known: dict[str, Remote], end: Literal["metadata", "data"]) -> Remote:
    """The one configured remote with a metadata (or a data) end."""
    having = [r for r in known.values() if (r.url if end == "metadata" else r.data) is not None]
    if len(having) == 1:
        return having[0]
    if not having:
        listed = ", ".join(f"{n} ({r.kind})" for n, r in known.items())
        state = f"with a {end} end is configured ({listed})" if known else "is configured"
        if end == "metadata":
            raise NotFoundError(
                f"no remote {state}: name the other end (a server URL, a store, a bundle "
                "file), or add a remote with: mltrail remote add NAME URL"
            )
        raise NotFoundError(
            f"no remote {state}: name a data end (a directory, s3://bucket/prefix, "
            "ssh://user@host/path), or add one with: mltrail remote add NAME URL (a data "
            "URL), or NAME SERVER_URL --data URL"
        )
    names = ", ".join(str(r.name) for r in having)
    which = "" if len(having) == len(known) else f" with a {end} end"
    raise InvalidArgumentError(
        f"{len(having)} remotes{which} are configured ({names}): name the one to use"
    )


def _may_be_data(url: str) -> bool:
    """Whether ``url`` can be a data end as given: an fsspec URL of a data scheme, or a path
    that is not a file (a directory, or one to be made)."""
    text = url.strip()
    if "://" in text:
        return text.split("://", 1)[0].lower() in DATA_SCHEMES
    if text.endswith(".mltrail"):
        return False
    path = Path(os.path.expanduser(text))
    return path.is_dir() or not path.exists()


def _ends(url: Any, data: Any, kind: Any) -> tuple[str | None, str | None]:
    """(metadata end, data end) of a remote being added, normalized."""
    if kind is not None and kind not in KINDS:
        raise InvalidArgumentError(f"a remote's kind is one of {', '.join(KINDS)}, got {kind!r}")
    if url is None:
        if data is None:
            raise InvalidArgumentError("a remote needs a URL (or a data end: data=URL)")
        if kind not in (None, "data"):
            raise InvalidArgumentError(f"a remote of kind {kind!r} needs a metadata URL")
        return None, _normalized_data(data)
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError(f"a remote needs a URL or a path, got {url!r}")
    given = kind
    if kind is None:
        kind = "both" if data is not None else infer_kind(url)
    if kind == "data":
        if data is not None:
            raise InvalidArgumentError(
                f"{url} is taken for the data end, and --data gives another: give the "
                "metadata end as URL with --data URL, or the data end alone"
            )
        return None, _normalized_data(url)
    if kind == "both" and data is None:
        raise InvalidArgumentError(
            "a remote of kind 'both' has a metadata end (URL) and a data end: add --data URL"
        )
    if kind == "metadata" and data is not None:
        raise InvalidArgumentError(
            "a remote of kind 'metadata' has no data end: leave out --data (or --kind)"
        )
    if is_data_url(url) or (given is None and infer_kind(url) == "data"):
        raise InvalidArgumentError(
            f"{url} is a data end (a place for artifact bytes), not a metadata one (a server, "
            "a store, a bundle): add it as a data remote (without --data), or give a metadata "
            "URL with --data URL"
        )
    return _normalized(url), (_normalized_data(data) if data is not None else None)


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


def _normalized_data(url: Any) -> str:
    """A data end as kept: a local path made absolute, a URL checked for credentials."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError(f"a data end needs a URL or a directory, got {url!r}")
    url = url.strip()
    if "://" not in url:
        if url.endswith(".mltrail") or Path(os.path.expanduser(url)).is_file():
            raise InvalidArgumentError(
                f"{url} is a file: a data end is a directory (or an fsspec URL such as "
                "s3://bucket/prefix); a store file or a bundle is a metadata end"
            )
        return str(Path(os.path.abspath(os.path.expanduser(url))))
    scheme = url.split("://", 1)[0].lower()
    if scheme not in DATA_SCHEMES:
        raise InvalidArgumentError(
            f"{url} is not a data URL: a data end is a directory or one of "
            f"{', '.join(sorted(DATA_SCHEMES))}:// (a server, a database or a bundle holds "
            "metadata)"
        )
    parts = urlsplit(url)
    if parts.password:
        raise InvalidArgumentError(
            f"the URL {scheme}://{parts.hostname}... holds a password: a data end takes its "
            "credentials from its filesystem (AWS variables or profiles for s3, SSH keys: "
            "--option client_keys=[...]), never from the remote list"
        )
    return url.rstrip("/") if len(url.split("://", 1)[1]) > 1 else url


def _options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Data options, checked: names are identifiers, none holds a credential."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InvalidArgumentError(f"data options must be a mapping, got {options!r}")
    checked: dict[str, Any] = {}
    for key, value in options.items():
        if not isinstance(key, str) or not _OPTION.fullmatch(key):
            raise InvalidArgumentError(
                f"data option {key!r} is not a valid name (letters, digits and '_')"
            )
        if key.lower() in SECRET_OPTIONS:
            raise InvalidArgumentError(
                f"data option {key!r} is a credential: it never goes into the remote list; "
                "give s3 credentials by AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile "
                "(--option profile=NAME), SSH ones by key files (--option client_keys=[...])"
            )
        checked[key] = value
    return checked


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` as given to ``--option``: VALUE is read as a TOML value when it is one
    (``true``, ``8``, ``["~/.ssh/id"]``), else kept as text."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InvalidArgumentError(f"expected KEY=VALUE, got {text!r}")
    toml = _toml()
    try:
        parsed = toml.loads(f"v = {value}")["v"]
    except toml.TOMLDecodeError:
        parsed = value
    return key, parsed


def _entry(file: Path, name: str, entry: Any) -> Remote:
    """A remote as read from the file."""
    if not isinstance(entry, dict) or not (
        isinstance(entry.get("url"), str) or isinstance(entry.get("data"), str)
    ):
        raise _malformed(
            file, f'[remote.{name}] needs url = "..." (a metadata end) or data = "..." (a data end)'
        )
    for key in ("url", "data", "token_env"):
        if key in entry and not isinstance(entry[key], str):
            raise _malformed(file, f"[remote.{name}] {key} must be a string")
    options = entry.get("data_options", {})
    if not isinstance(options, dict):
        raise _malformed(file, f"[remote.{name}.data_options] must be a table")
    return Remote(name, entry.get("url"), entry.get("token_env"), entry.get("data"), options)


def _no_data_end(remote: Remote) -> FailedPreconditionError:
    return FailedPreconditionError(
        f"remote {remote.name!r} has no data end (it is metadata-only: {remote.url}); give it "
        f"one: mltrail remote remove {remote.name}, then mltrail remote add {remote.name} "
        f"{remote.url} --data URL"
    )


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


__all__ = [
    "KINDS",
    "Kind",
    "Remote",
    "add",
    "config_path",
    "infer_kind",
    "is_data_url",
    "parse_option",
    "remotes",
    "remove",
    "resolve",
    "resolve_data",
]
