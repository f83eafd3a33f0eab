"""Helpers shared by the tracking tests (imported as ``tracking_helpers``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

#: A fixed time in the past for files whose digests may be memoized (see _memo.RACY_WINDOW_NS).
OLD_NS = 1_600_000_000 * 10**9


def write(path: Path, data: bytes | str, *, old: bool = False) -> Path:
    """Write a file (creating its directory); ``old=True`` dates it in the past."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    if old:
        os.utime(path, ns=(OLD_NS, OLD_NS))
    return path


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` (test set-up only) and return its output."""
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root)},
    )
    return done.stdout.strip()
