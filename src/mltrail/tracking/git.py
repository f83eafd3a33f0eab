"""The code version of a run, read from git without changing anything.

Commit, branch and remote URL are read from the files under ``.git`` (HEAD, loose refs,
``packed-refs``, ``config``); linked work trees and submodules (a ``.git`` *file*) are followed.
Whether the work tree differs from HEAD, and a digest of that difference, come from one read-only
``git diff HEAD`` (with ``GIT_OPTIONAL_LOCKS=0`` so that git does not even refresh its index,
and with external diff drivers, text conversion filters and user diff settings disabled, so the
digest of the same change is the same on every machine). Untracked files do not make a tree
dirty, as with ``git describe --dirty``.

Nothing here ever fails for want of git: outside a repository :func:`capture_git` returns None,
and a missing ``git`` executable leaves ``dirty`` and ``diff_digest`` unknown (None).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mltrail._project import find_git_dir_holder

__all__ = ["GitInfo", "capture_git"]

#: Seconds ``git diff`` may take before the dirty flag is reported as unknown.
DIFF_TIMEOUT_S = 30.0

_DIFF_COMMAND = (
    "git",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "diff",
    "HEAD",
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--no-renames",
    "--binary",
    "--diff-algorithm=myers",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--unified=3",
)
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class GitInfo:
    """What git says about the code: ``commit`` (None before the first commit), ``branch`` (None
    when HEAD is detached), ``remote`` (the URL, credentials removed), ``dirty`` (tracked files
    differ from HEAD; None if unknown) and ``diff_digest`` (``"sha256:<hex>"`` of that
    difference when dirty)."""

    root: Path
    commit: str | None
    branch: str | None
    remote: str | None
    dirty: bool | None
    diff_digest: str | None

    @property
    def code_version(self) -> str | None:
        """The commit, plus the diff digest when the tree is dirty (``<commit>+<digest>``)."""
        if self.commit is None:
            return None
        if self.dirty and self.diff_digest:
            return f"{self.commit}+{self.diff_digest}"
        return self.commit


def capture_git(
    start: str | os.PathLike[str] | None = None, *, diff: bool = True
) -> GitInfo | None:
    """The git state of the work tree around ``start`` (default: the current directory), or None
    outside a git work tree. ``diff=False`` skips the ``git diff`` (dirty stays unknown)."""
    holder = find_git_dir_holder(Path(start) if start is not None else Path.cwd())
    if holder is None:
        return None
    git_dir = _git_dir(holder / ".git")
    if git_dir is None:
        return None
    common = _common_dir(git_dir)
    if (common / "reftable").is_dir():  # refs are not plain files in this format: ask git
        branch, commit = _head_via_git(holder)
    else:
        branch, commit = _head(git_dir, common)
    remote = _remote_url(common / "config", branch)
    dirty, digest = _diff(holder) if diff and commit is not None else (None, None)
    return GitInfo(holder, commit, branch, remote, dirty, digest)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _git_dir(dot_git: Path) -> Path | None:
    if dot_git.is_dir():
        return dot_git
    text = _read(dot_git)  # a linked work tree or a submodule: "gitdir: <path>"
    if text and text.startswith("gitdir:"):
        target = Path(text[len("gitdir:") :].strip())
        target = target if target.is_absolute() else dot_git.parent / target
        return target if target.is_dir() else None
    return None


def _common_dir(git_dir: Path) -> Path:
    text = _read(git_dir / "commondir")
    if not text or not text.strip():
        return git_dir
    target = Path(text.strip())
    return target if target.is_absolute() else (git_dir / target)


def _head(git_dir: Path, common: Path) -> tuple[str | None, str | None]:
    """(branch, commit) from HEAD, following symbolic refs through loose and packed refs."""
    text = (_read(git_dir / "HEAD") or "").strip()
    branch = None
    for _ in range(5):
        if _SHA.match(text):
            return branch, text
        if not text.startswith("ref:"):
            return branch, None
        ref = text[len("ref:") :].strip()
        if branch is None and ref.startswith("refs/heads/"):
            branch = ref[len("refs/heads/") :]
        text = _resolve_ref(git_dir, common, ref) or ""
    return branch, None


def _resolve_ref(git_dir: Path, common: Path, ref: str) -> str | None:
    for base in (git_dir, common):
        text = _read(base / ref)
        if text is not None and text.strip():
            return text.strip()
    packed = _read(common / "packed-refs") or ""
    for line in packed.splitlines():
        if line.startswith(("#", "^")):
            continue
        sha, _, name = line.partition(" ")
        if name.strip() == ref:
            return sha.strip()
    return None


def _parse_config(text: str) -> dict[tuple[str, str, str], str]:
    """``(section, subsection, key) -> value`` from a git config file (first value wins)."""
    values: dict[tuple[str, str, str], str] = {}
    section = subsection = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.match(r'^\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]', line)
        if header:
            section = header.group(1).lower()
            subsection = re.sub(r"\\(.)", r"\1", header.group(2) or "")
            if "." in section and not header.group(2):  # old syntax [section.subsection]
                section, _, subsection = section.partition(".")
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        value = value.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        else:
            value = re.split(r"\s[#;]", value, maxsplit=1)[0].strip()
        values.setdefault((section, subsection, key.strip().lower()), value)
    return values


def _remote_url(config_path: Path, branch: str | None) -> str | None:
    config = _parse_config(_read(config_path) or "")
    remotes = [sub for (section, sub, key) in config if section == "remote" and key == "url"]
    if not remotes:
        return None
    preferred = config.get(("branch", branch, "remote")) if branch else None
    name = next((r for r in (preferred, "origin") if r in remotes), remotes[0])
    return redact_url(config[("remote", name, "url")])


def redact_url(url: str) -> str:
    """``url`` without credentials (``https://user:token@host/x`` → ``https://host/x``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme in ("http", "https", "ftp", "ftps") and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    if parts.scheme and parts.password:
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username}@{host}"))
    return url


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    """Run a read-only git command in ``root``; None when git is missing, fails or hangs."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    env.pop("GIT_EXTERNAL_DIFF", None)
    try:
        done = subprocess.run(
            args,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=DIFF_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done if done.returncode == 0 else None


def _head_via_git(root: Path) -> tuple[str | None, str | None]:
    commit = _git(root, "git", "rev-parse", "--verify", "-q", "HEAD")
    branch = _git(root, "git", "symbolic-ref", "-q", "--short", "HEAD")
    return (
        branch.stdout.decode().strip() or None if branch else None,
        commit.stdout.decode().strip() or None if commit else None,
    )


def _diff(root: Path) -> tuple[bool | None, str | None]:
    done = _git(root, *_DIFF_COMMAND)
    if done is None:
        return None, None
    if not done.stdout:
        return False, None
    return True, "sha256:" + hashlib.sha256(done.stdout).hexdigest()
