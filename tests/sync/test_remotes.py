"""The remote list: where it lives, what a name or URL resolves to, where tokens come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from mltrail.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from mltrail.sync import remotes
from mltrail.sync.remotes import Remote


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "src" / "deep")  # anywhere in the work tree
    return tmp_path


def test_the_list_lives_at_the_root_of_the_work_tree(tree: Path) -> None:
    assert remotes.config_path() == tree / ".mltrail" / "config.toml"
    remotes.add("central", "http://h:8765")
    assert remotes.remotes() == {"central": Remote("central", "http://h:8765")}
    assert (tree / ".mltrail" / "config.toml").is_file()


def test_other_settings_in_the_file_are_kept(tree: Path) -> None:
    (tree / ".mltrail").mkdir()
    (tree / ".mltrail" / "config.toml").write_text('[ui]\ntheme = "dark"\n')
    remotes.add("central", "http://h")
    remotes.remove("central")
    assert (tree / ".mltrail" / "config.toml").read_text().strip() == '[ui]\ntheme = "dark"'


def test_what_a_name_or_url_resolves_to(tree: Path) -> None:
    remotes.add("backup", "stores/backup.db")
    (tree / "src" / "deep" / "backup").write_text("a file named like the remote")
    (tree / "src" / "deep" / "notaremote").write_text("a store file without a suffix")
    # a configured name wins over a file of that name; its path was made absolute
    assert remotes.resolve("backup") == Remote(
        "backup", str(tree / "src" / "deep" / "stores" / "backup.db")
    )
    assert remotes.resolve(None).name == "backup"  # the only one
    assert remotes.resolve("notaremote") == Remote(None, "notaremote")  # an existing file
    for given in ("http://h:1/p/x", "sqlite:///x.db", "x.db", "../y.mltrail"):
        assert remotes.resolve(given) == Remote(None, given)
    with pytest.raises(NotFoundError, match=r"no remote named 'centrl' \(known remotes: backup\)"):
        remotes.resolve("centrl")
    with pytest.raises(InvalidArgumentError, match="expected a remote name"):
        remotes.resolve("  ")


def test_a_token_comes_from_the_variable_the_remote_names(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remotes.add("central", "https://h/p/vision", token_env="VISION_TOKEN")
    remotes.add("open", "http://h")
    central = remotes.resolve("central")
    monkeypatch.delenv("VISION_TOKEN", raising=False)
    with pytest.raises(FailedPreconditionError, match=r"takes its token from \$VISION_TOKEN"):
        central.token()
    monkeypatch.setenv("VISION_TOKEN", "mlt_secret")
    assert central.token() == "mlt_secret"
    assert remotes.resolve("open").token() is None  # the transfer falls back to $MLTRAIL_TOKEN
    assert "mlt_secret" not in (tree / ".mltrail" / "config.toml").read_text()


def test_removing_the_last_remote_leaves_an_empty_list(tree: Path) -> None:
    remotes.add("a", "http://h")
    assert remotes.remove("a") == Remote("a", "http://h")
    assert remotes.remotes() == {}
    with pytest.raises(NotFoundError, match="none is configured"):
        remotes.remove("a")
