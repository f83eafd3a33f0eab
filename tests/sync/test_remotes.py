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


# ------------------------------------------------------------------------------ data ends


def test_kinds_are_inferred_from_the_url(tree: Path) -> None:
    (tree / "bytes").mkdir()
    (tree / "store.db").write_text("")
    assert remotes.infer_kind("s3://bucket/prefix") == "data"
    assert remotes.infer_kind("ssh://me@host:2222/srv/ml") == "data"
    assert remotes.infer_kind("SFTP://host/srv") == "data"
    assert remotes.infer_kind("file:///srv/ml") == "data"
    assert remotes.infer_kind("memory://x") == "data"
    assert remotes.infer_kind(str(tree / "bytes")) == "data"  # an existing directory
    assert remotes.infer_kind("not-yet/") == "data"  # a directory to be made
    assert remotes.infer_kind("https://ml.example.org/p/vision") == "metadata"
    assert remotes.infer_kind("postgresql+psycopg://u@db/ml") == "metadata"
    assert remotes.infer_kind("sqlite:///x.db") == "metadata"
    assert remotes.infer_kind(str(tree / "store.db")) == "metadata"
    assert remotes.infer_kind("monday.mltrail") == "metadata"
    assert remotes.infer_kind("new.db") == "metadata"  # a store file to be made


def test_a_remote_with_both_ends_and_options(tree: Path) -> None:
    added = remotes.add(
        "central",
        "https://ml.example.org/p/vision",
        data="s3://ml-artifacts/vision/",
        data_options={"endpoint_url": "http://127.0.0.1:8333", "use_ssl": False},
        token_env="VISION_TOKEN",
    )
    assert added.kind == "both"
    assert added == remotes.remotes()["central"]
    assert added.data == "s3://ml-artifacts/vision"  # no trailing slash
    assert added.data_options == {"endpoint_url": "http://127.0.0.1:8333", "use_ssl": False}
    assert remotes.resolve("central") == added
    assert {added, remotes.resolve("central")} == {added}  # hashable, options aside
    assert remotes.resolve_data("central") == added
    text = (tree / ".mltrail" / "config.toml").read_text()
    assert "[remote.central.data_options]" in text and 'data = "s3://ml-artifacts/vision"' in text
    assert added.as_dict() == {
        "name": "central",
        "kind": "both",
        "url": "https://ml.example.org/p/vision",
        "token_env": "VISION_TOKEN",
        "data": "s3://ml-artifacts/vision",
        "data_options": {"endpoint_url": "http://127.0.0.1:8333", "use_ssl": False},
    }


def test_a_data_only_remote_is_refused_for_sync_and_chosen_for_bytes(tree: Path) -> None:
    remotes.add("backup", "backup.db")
    bucket = remotes.add("bucket", "s3://ml/vision")
    shelf = remotes.add("shelf", "shelf", kind="data")  # a directory to be made
    assert (bucket.kind, bucket.url, bucket.data) == ("data", None, "s3://ml/vision")
    assert shelf.data == str(tree / "src" / "deep" / "shelf")
    with pytest.raises(FailedPreconditionError, match="remote 'bucket' is data-only"):
        remotes.resolve("bucket")
    assert remotes.resolve(None).name == "backup"  # the only one with a metadata end
    with pytest.raises(
        InvalidArgumentError, match=r"2 remotes with a data end are configured \(bucket, shelf\)"
    ):
        remotes.resolve_data(None)
    with pytest.raises(FailedPreconditionError, match="remote 'backup' has no data end"):
        remotes.resolve_data("backup")
    with pytest.raises(InvalidArgumentError, match="is a data end"):
        remotes.resolve("s3://ml/other")
    with pytest.raises(InvalidArgumentError, match="is not a data end"):
        remotes.resolve_data("https://ml.example.org")
    # a URL or a directory given as it is
    assert remotes.resolve_data("ssh://me@h/srv") == Remote(None, None, data="ssh://me@h/srv")
    assert remotes.resolve_data("../up").data == str(tree / "src" / "up")
    remotes.remove("shelf")
    assert remotes.resolve_data(None).name == "bucket"


def test_no_data_end_configured(tree: Path) -> None:
    with pytest.raises(NotFoundError, match="no remote is configured: name a data end"):
        remotes.resolve_data(None)
    remotes.add("central", "http://h")
    with pytest.raises(
        NotFoundError, match=r"no remote with a data end is configured \(central \(metadata\)\)"
    ):
        remotes.resolve_data(None)


def test_mistakes_in_data_ends(tree: Path) -> None:
    (tree / "store.db").write_text("")
    cases = [
        ({"url": "s3://b/p", "data": "s3://b/q"}, r"add it as a data remote \(without --data\)"),
        ({"url": "s3://b/p", "data": "s3://b/q", "kind": "data"}, "is taken for the data end"),
        ({"url": "s3://b/p", "kind": "metadata"}, "is a data end"),
        ({"url": "http://h", "kind": "both"}, "add --data URL"),
        ({"url": "http://h", "data": "s3://b", "kind": "metadata"}, "has no data end"),
        ({"url": "http://h", "data": "https://elsewhere"}, "is not a data URL"),
        ({"url": "http://h", "data": str(tree / "store.db")}, "is a file"),
        ({"url": "ssh://me:pw@host/srv"}, "holds a password"),
        ({"url": "s3://b", "data_options": {"secret": "x"}}, "is a credential"),
        ({"url": "s3://b", "data_options": {"bad key": 1}}, "is not a valid name"),
        ({"url": "http://h", "data_options": {"profile": "p"}}, "belong to a data end"),
        ({"url": "s3://b", "token_env": "TOKEN"}, "this remote is data-only"),
        ({"url": "http://h", "kind": "everything"}, "kind is one of metadata, data, both"),
    ]
    for arguments, message in cases:
        with pytest.raises(InvalidArgumentError, match=message):
            remotes.add("r", **arguments)  # type: ignore[arg-type]
    assert remotes.remotes() == {}  # nothing was written


def test_options_read_toml_values(tree: Path) -> None:
    assert remotes.parse_option("endpoint_url=http://127.0.0.1:8333") == (
        "endpoint_url",
        "http://127.0.0.1:8333",
    )
    assert remotes.parse_option("use_ssl=false") == ("use_ssl", False)
    assert remotes.parse_option("port=2222") == ("port", 2222)
    assert remotes.parse_option('client_keys=["~/.ssh/id_ed25519"]') == (
        "client_keys",
        ["~/.ssh/id_ed25519"],
    )
    assert remotes.parse_option("profile = ml") == ("profile", " ml")
    with pytest.raises(InvalidArgumentError, match="expected KEY=VALUE"):
        remotes.parse_option("novalue")


def test_an_old_file_and_a_data_only_entry_are_read(tree: Path) -> None:
    (tree / ".mltrail").mkdir()
    (tree / ".mltrail" / "config.toml").write_text(
        '[remote.old]\nurl = "http://h"\n\n'
        '[remote.bytes]\ndata = "/srv/ml"\n[remote.bytes.data_options]\nauto_mkdir = true\n'
    )
    found = remotes.remotes()
    assert found["old"] == Remote("old", "http://h") and found["old"].kind == "metadata"
    expected = Remote("bytes", None, data="/srv/ml", data_options={"auto_mkdir": True})
    assert found["bytes"] == expected
    (tree / ".mltrail" / "config.toml").write_text("[remote.x]\ndata = 3\n")
    with pytest.raises(FailedPreconditionError, match=r"\[remote.x\] needs url"):
        remotes.remotes()
    (tree / ".mltrail" / "config.toml").write_text('[remote.x]\ndata = "/a"\ndata_options = 1\n')
    with pytest.raises(FailedPreconditionError, match=r"data_options\] must be a table"):
        remotes.remotes()


def test_sync_takes_a_remote_by_its_metadata_end_and_refuses_data_ends(tree: Path) -> None:
    import mltrail
    from mltrail import sync

    (tree / "shelf").mkdir()
    with mltrail.connect(str(tree / "here.db")) as here:
        here.put_artifact_type(mltrail.ArtifactType(name="Dataset"))
        both = remotes.add("central", str(tree / "central.db"), data=str(tree / "shelf"))
        assert sync.push(here, both).records == 0  # types travel with the nodes that use them
        here.put_artifacts([mltrail.Artifact(type="Dataset", uri="/d")])
        assert sync.push(here, both).created == 1
        with mltrail.connect(str(tree / "central.db")) as central:
            assert [a.uri for a in central.get_artifacts()] == ["/d"]
        shelf = Remote("shelf", None, data=str(tree / "shelf"))
        for end in (shelf, "s3://bucket/prefix", str(tree / "shelf")):
            error = FailedPreconditionError if isinstance(end, Remote) else InvalidArgumentError
            with pytest.raises(error, match=r"data-only|is a data end"):
                sync.pull(here, end)
