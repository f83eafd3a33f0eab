"""Fixtures for tracking tests: a project directory, a tracker on the ``store`` fixture, and
throwaway git repositories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tracking_helpers import git, write

from mltrail import MetadataStore
from mltrail.tracking import Tracker


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, made the current directory; no MLTRAIL_STORE."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLTRAIL_STORE", raising=False)
    return root


@pytest.fixture
def tracker(store: MetadataStore, project: Path) -> Iterator[Tracker]:
    """A tracker of pipeline "demo" recording into the ``store`` fixture."""
    with Tracker("demo", store=store, root=project) as opened:
        yield opened


@pytest.fixture
def git_repo(project: Path) -> Callable[..., str]:
    """Turn the project into a git repository with one commit; returns a ``git(*args)`` runner."""
    git(project, "init", "-q", "-b", "main")
    write(project / "code.py", "print('v1')\n")
    git(project, "add", "code.py")
    git(project, "commit", "-q", "-m", "first")

    def run(*args: str) -> str:
        return git(project, *args)

    return run
