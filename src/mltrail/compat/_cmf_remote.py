"""Datasets and models that CMF scripts log by a URL (``s3://...``, ``gs://...``, ``http://...``).

CMF hands such a URL to ``dvc import-url``. Here the URL itself is recorded (the artifact's
``uri`` and ``path``, credentials removed, ``kind = "url"``), and when fsspec can read it (the
protocol's filesystem is installed and the object is reachable), its bytes are hashed as they
stream by, with the tracker's algorithm: a file by its bytes, a directory by the same manifest a
local directory gets, so a remote copy and a local one are the same artifact. A URL that cannot be
read is recorded by the URL alone (external id ``url:<url>``); logging never fails because of it.
The bytes are not copied into mltrail's cache.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from mltrail.compat import _cmf_names as N
from mltrail.data._manifest import manifest_bytes
from mltrail.model import INPUT_EVENT_TYPES, Artifact, ArtifactState
from mltrail.tracking.git import redact_url
from mltrail.tracking.hashing import CHUNK_SIZE, ContentDigest
from mltrail.tracking.run import Run

log = logging.getLogger(__name__)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def is_remote(url: Any) -> bool:
    """Whether ``url`` names data elsewhere than the local disk (any scheme but ``file``)."""
    if not isinstance(url, str):
        return False
    found = _SCHEME.match(url)
    return found is not None and found.group(1).lower() != "file"


def _hash(fs: Any, path: str, algorithm: str) -> tuple[str, int]:
    h = hashlib.new(algorithm)
    total = 0
    with fs.open(path, "rb") as stream:
        while True:
            chunk = stream.read(CHUNK_SIZE)
            if not chunk:
                break
            h.update(chunk)
            total += len(chunk)
    return h.hexdigest(), total


def remote_digest(url: str, algorithm: str) -> ContentDigest | None:
    """The content digest of what ``url`` names, or None when it cannot be read."""
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(url)
        if fs.info(path).get("type") == "directory":
            root = path.rstrip("/")
            entries, size = [], 0
            for member in sorted(fs.find(root)):
                hexdigest, length = _hash(fs, member, algorithm)
                entries.append((member[len(root) :].lstrip("/"), hexdigest))
                size += length
            manifest = manifest_bytes(entries, algorithm)
            hexdigest = hashlib.new(algorithm, manifest).hexdigest()
            return ContentDigest(algorithm, hexdigest, size, True, len(entries))
        hexdigest, length = _hash(fs, path, algorithm)
        return ContentDigest(algorithm, hexdigest, length)
    except Exception as exc:  # unreachable, unknown protocol, no permission: the URL alone
        log.info("recording %s by its URL only: %s", url, exc)
        return None


def log_url(
    run: Run,
    type_name: str,
    url: str,
    event: Any,
    declared: dict[str, Any],
    custom: dict[str, Any],
    algorithm: str,
) -> Artifact:
    """Record ``url`` as a ``type_name`` artifact of ``run`` (see the module's text)."""
    from mltrail.tracking._values import event_type, property_dict

    kind = event_type(event)
    extra = property_dict(custom, "property", reserved=False)
    shown = redact_url(url)
    digest = remote_digest(url, algorithm)
    props: dict[str, Any] = {"path": shown, "paths": [shown], "kind": "url", **declared}
    if digest is not None:
        props.update(size=digest.size, algorithm=digest.algorithm, file_count=digest.file_count)
    template = Artifact(
        type=type_name,
        uri=shown,
        external_id=digest.external_id if digest is not None else N.URL_IDENTITY + shown,
        state=ArtifactState.LIVE,
        properties=props,
        custom_properties=extra,
    )
    with run._logging():
        artifact = run._record_file(template, kind, [shown])
        if kind in INPUT_EVENT_TYPES:
            assert template.external_id is not None
            run._inputs[shown] = template.external_id
        return artifact
