"""Opening the filesystem of a data remote from its URL and options, with clear errors."""

from __future__ import annotations

import os
from typing import Any

from mltrail.errors import FailedPreconditionError, InvalidArgumentError

__all__ = ["filesystem"]

#: The extra that brings each optional filesystem.
EXTRAS = {"s3": "s3", "s3a": "s3", "ssh": "ssh", "sftp": "ssh"}


def _scheme(url: str) -> str:
    head, sep, _ = url.partition("://")
    return head.lower() if sep else "file"


def filesystem(url: str, options: dict[str, Any]) -> tuple[Any, str]:
    """(fsspec filesystem, root path on it) for ``url``.

    S3 takes ``endpoint_url`` (else ``$AWS_ENDPOINT_URL``) and ``profile`` besides s3fs's own
    options; SSH URLs are ``ssh://user@host:port/path`` with sshfs's options (``client_keys``,
    ``known_hosts``...).
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgumentError("a data remote needs a URL or a path, got an empty one")
    scheme = _scheme(url)
    options = dict(options)
    if scheme in ("s3", "s3a"):
        endpoint = options.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint_url"] = endpoint
    if scheme in ("ssh", "sftp") and isinstance(options.get("known_hosts"), str):
        # A path given as text stays a path (expanded); None (no host check) and lists pass.
        options["known_hosts"] = os.path.expanduser(options["known_hosts"])
    if scheme in ("ssh", "sftp") and isinstance(options.get("client_keys"), str):
        options["client_keys"] = [os.path.expanduser(options["client_keys"])]
    if scheme in ("ssh", "sftp"):
        # fsspec would hand back its cached instance, whose SSH connection may have died since
        # (a server restart, a network cut): every later push or pull would fail. A new store
        # gets a new connection.
        options.setdefault("skip_instance_cache", True)
    try:
        from fsspec.core import url_to_fs
    except ImportError:  # pragma: no cover - fsspec is a dependency
        raise FailedPreconditionError("fsspec is missing: pip install mltrail") from None
    try:
        fs, root = url_to_fs(url, **options)
    except ImportError as exc:
        extra = EXTRAS.get(scheme)
        hint = f"pip install 'mltrail[{extra}]'" if extra else "install its fsspec filesystem"
        raise FailedPreconditionError(
            f"data remote {url} needs a package that is not installed ({exc}); {hint}"
        ) from None
    except ValueError as exc:
        raise InvalidArgumentError(f"cannot use {url} as a data remote: {exc}") from None
    return fs, str(root)
