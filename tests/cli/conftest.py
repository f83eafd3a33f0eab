"""Fixtures of the command line's tests: ``project`` (a seeded working tree, the current
directory), ``empty_tree`` (a working tree with no store), ``seeded_server`` (a real server on
a copy of the seeded store, shared by the tests that only read through it) and ``auth_central``
(a real server with authentication, one per test module, and its token registry)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from _cli import copy_project, seed
from _remote import RemoteServer
from mltrail.server.tokens import Registry


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy pipeline logged once per session (see ``_cli.seed``)."""
    root = tmp_path_factory.mktemp("seeded")
    (root / ".git").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("MLTRAIL_STORE", raising=False)
        seed(root)
    return root


@pytest.fixture
def empty_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working tree of its own (the current directory) with no store, and no store or token
    chosen by the environment."""
    root = tmp_path / "tree"
    root.mkdir()
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    for name in ("MLTRAIL_STORE", "MLTRAIL_TOKEN", "MLTRAIL_CACHE"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def project(empty_tree: Path, seeded_template: Path) -> Path:
    """A working tree (the current directory) whose default store holds the toy pipeline."""
    copy_project(seeded_template, empty_tree)
    return empty_tree


@pytest.fixture(scope="session")
def seeded_server(
    seeded_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RemoteServer]:
    """``mltrail serve`` on a copy of the toy pipeline's store; tests only read through it."""
    home = tmp_path_factory.mktemp("served")
    shutil.copy(seeded_template / ".mltrail" / "mltrail.db", home / "seeded.db")
    started = RemoteServer(f"sqlite:///{home / 'seeded.db'}", home)
    yield started
    started.close()


@pytest.fixture(scope="module")
def auth_central(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RemoteServer, Registry]]:
    """``mltrail serve --auth`` on an empty SQLite store, and its token registry."""
    home = tmp_path_factory.mktemp("central")
    started = RemoteServer(f"sqlite:///{home / 'central.db'}", home, args=("--auth",))
    registry = Registry(f"sqlite:///{home / 'server.db'}")
    yield started, registry
    registry.close()
    started.close()
