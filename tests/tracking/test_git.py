"""Git capture: read-only, optional, and exact about commit, branch, remote and dirtiness."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tracking_helpers import git, write

from mltrail.tracking import capture_git
from mltrail.tracking.git import redact_url


def test_outside_git_there_is_nothing(project: Path) -> None:
    assert capture_git(project) is None


def test_clean_repository(project: Path, git_repo: Callable[..., str]) -> None:
    info = capture_git(project)
    assert info is not None
    assert info.root == project
    assert info.commit == git_repo("rev-parse", "HEAD")
    assert info.branch == "main"
    assert info.remote is None
    assert (info.dirty, info.diff_digest) == (False, None)
    assert info.code_version == info.commit


def test_from_a_subdirectory(project: Path, git_repo: Callable[..., str]) -> None:
    (project / "src" / "deep").mkdir(parents=True)
    info = capture_git(project / "src" / "deep")
    assert info is not None and info.root == project


def test_dirty_tree_and_diff_digest(project: Path, git_repo: Callable[..., str]) -> None:
    write(project / "code.py", "print('v2')\n")
    first = capture_git(project)
    assert first is not None and first.dirty is True
    expected = hashlib.sha256(
        subprocess.run(
            ["git", "diff", "HEAD", "--binary", "--no-color", "--no-ext-diff"],
            cwd=project,
            capture_output=True,
            check=True,
        ).stdout
    ).hexdigest()
    assert first.diff_digest == f"sha256:{expected}"
    assert first.code_version == f"{first.commit}+{first.diff_digest}"
    assert capture_git(project) == first  # the same change, the same digest
    write(project / "code.py", "print('v3')\n")
    third = capture_git(project)
    assert third is not None and third.dirty and third.diff_digest != first.diff_digest
    git_repo("add", "code.py")  # staged changes are still differences from HEAD
    staged = capture_git(project)
    assert staged is not None and staged.diff_digest == third.diff_digest


def test_untracked_files_do_not_make_a_tree_dirty(
    project: Path, git_repo: Callable[..., str]
) -> None:
    write(project / "notes.txt", "scratch")
    info = capture_git(project)
    assert info is not None and info.dirty is False


def test_detached_head_and_packed_refs(project: Path, git_repo: Callable[..., str]) -> None:
    first = git_repo("rev-parse", "HEAD")
    write(project / "code.py", "print('v2')\n")
    git_repo("commit", "-q", "-am", "second")
    git_repo("pack-refs", "--all")
    assert not (project / ".git" / "refs" / "heads" / "main").exists()
    packed = capture_git(project)
    assert packed is not None
    assert (packed.commit, packed.branch) == (git_repo("rev-parse", "HEAD"), "main")
    git_repo("checkout", "-q", "--detach", first)
    detached = capture_git(project)
    assert detached is not None and (detached.commit, detached.branch) == (first, None)


def test_no_commit_yet(project: Path) -> None:
    git(project, "init", "-q", "-b", "trunk")
    info = capture_git(project)
    assert info is not None
    assert (info.commit, info.branch, info.dirty, info.code_version) == (None, "trunk", None, None)


def test_linked_work_tree(tmp_path: Path, project: Path, git_repo: Callable[..., str]) -> None:
    other = tmp_path / "other-tree"
    git_repo("worktree", "add", "-q", "-b", "feature", str(other))
    info = capture_git(other)
    assert info is not None
    assert (info.root, info.branch) == (other, "feature")
    assert info.commit == git_repo("rev-parse", "HEAD")


def test_remote_url_without_credentials(project: Path, git_repo: Callable[..., str]) -> None:
    git_repo("remote", "add", "backup", "git@example.com:team/backup.git")
    git_repo("remote", "add", "origin", "https://ana:s3cret@example.com/team/repo.git")
    info = capture_git(project)
    assert info is not None and info.remote == "https://example.com/team/repo.git"
    git_repo("config", "branch.main.remote", "backup")  # the branch's upstream remote wins
    info = capture_git(project)
    assert info is not None and info.remote == "git@example.com:team/backup.git"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://u:p@host:8443/r", "https://host:8443/r"),
        ("ssh://git:pw@host/r", "ssh://git@host/r"),
        ("ssh://git@host/r", "ssh://git@host/r"),
        ("git@host:o/r.git", "git@host:o/r.git"),
        ("/srv/repos/r.git", "/srv/repos/r.git"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_capture_changes_nothing_and_runs_only_read_commands(
    project: Path, git_repo: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "code.py", "print('v2')\n")
    dot_git = project / ".git"
    before = {p: p.read_bytes() for p in dot_git.rglob("*") if p.is_file()}
    stamps = {p: p.stat().st_mtime_ns for p in before}
    commands: list[tuple[str, ...]] = []
    real_run = subprocess.run

    def recording(args: Any, *rest: Any, **kwargs: Any) -> Any:
        commands.append(tuple(args))
        return real_run(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording)
    assert capture_git(project) is not None
    after = {p: p.read_bytes() for p in dot_git.rglob("*") if p.is_file()}
    assert after == before
    assert {p: p.stat().st_mtime_ns for p in after} == stamps
    subcommands = {
        next(a for a in c[1:] if not a.startswith("-") and "=" not in a) for c in commands
    }
    assert subcommands == {"diff"}


def test_without_a_git_executable(
    project: Path, git_repo: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = git_repo("rev-parse", "HEAD")
    monkeypatch.setenv("PATH", str(project / "no-such-bin"))
    info = capture_git(project)
    assert info is not None
    assert (info.commit, info.branch, info.dirty, info.diff_digest) == (commit, "main", None, None)
