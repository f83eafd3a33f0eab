"""Zero set-up: the default store under the project root, MLTRAIL_STORE, recorded paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tracking_helpers import write

import mltrail
from mltrail._project import display_path, project_root
from mltrail.tracking import Tracker


def test_default_store_is_a_sqlite_file_under_the_project(project: Path) -> None:
    with Tracker("p") as tracker:
        assert tracker.root == project
        with tracker.stage("s").execution():
            pass
    assert (project / ".mltrail" / "mltrail.db").is_file()
    assert (project / ".mltrail" / ".gitignore").read_text().splitlines()[-1] == "*"
    with mltrail.connect(project / ".mltrail" / "mltrail.db") as store:
        assert [c.name for c in store.get_contexts()] == ["p", "p/s"]


def test_project_root_is_the_git_work_tree_root(
    project: Path, git_repo: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "src" / "pkg").mkdir(parents=True)
    monkeypatch.chdir(project / "src" / "pkg")
    assert project_root() == project
    with Tracker() as tracker:
        assert tracker.root == project
        assert tracker.pipeline == project.name  # the default pipeline name
        tracker.stage("s")
    assert (project / ".mltrail" / "mltrail.db").is_file()
    assert not (project / "src" / "pkg" / ".mltrail").exists()
    assert git_repo("status", "--porcelain") == ""  # .mltrail is ignored by its own .gitignore


def test_mltrail_store_environment_variable(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRAIL_STORE", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    with Tracker("p") as tracker:
        tracker.stage("s")
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (project / ".mltrail" / "mltrail.db").exists()


@pytest.mark.parametrize("form", ["path", "url", "store"])
def test_store_argument_wins(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    monkeypatch.setenv("MLTRAIL_STORE", str(tmp_path / "ignored.db"))
    target = tmp_path / "chosen.db"
    given: object = {"path": target, "url": f"sqlite:///{target}", "store": None}[form]
    opened = mltrail.connect(target) if form == "store" else None
    with Tracker("p", store=opened or given) as tracker:  # type: ignore[arg-type]
        tracker.stage("s")
    if opened is not None:
        assert opened.get_contexts()  # still open: the tracker did not own it
        opened.close()
    assert target.is_file() and not (tmp_path / "ignored.db").exists()


def test_paths_are_recorded_relative_to_the_root(project: Path, tmp_path: Path) -> None:
    assert display_path(project / "data" / "x.csv", project) == "data/x.csv"
    outside = tmp_path / "shared" / "x.csv"
    assert display_path(outside, project) == outside.as_posix()
    link = project / "linked"
    link.symlink_to(project / "data", target_is_directory=True)
    write(project / "data" / "x.csv", "1")
    assert display_path(link / "x.csv", project) == "linked/x.csv"


def test_invalid_names(store: mltrail.MetadataStore, project: Path) -> None:
    with Tracker("p", store=store, root=project) as tracker:
        with pytest.raises(mltrail.errors.InvalidArgumentError, match="'/'"):
            tracker.stage("a/b")
        with pytest.raises(mltrail.errors.InvalidArgumentError):
            tracker.stage("")
    with pytest.raises(mltrail.errors.InvalidArgumentError, match="pipeline"):
        Tracker("  ", store=store, root=project)
