"""push and pull of a store's artifact bytes: a project logged with the Tracker, a remote object
store (a local directory or memory), and a second site with an empty cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from data_helpers import overwrite

from mltrail import Artifact, MetadataStore
from mltrail.data import Cache, ObjectStore, Oid, pull, push
from mltrail.data._select import holdings
from mltrail.errors import FailedPreconditionError, NotFoundError
from mltrail.tracking import Tracker


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


class Logged:
    """What the project logged: artifacts by name."""

    def __init__(self, **artifacts: Artifact) -> None:
        self.artifacts = artifacts

    def __getitem__(self, name: str) -> Artifact:
        return self.artifacts[name]

    def oids(self, *names: str) -> set[Oid]:
        chosen = [self.artifacts[n] for n in names or self.artifacts]
        return {holding.oid for holding in holdings(chosen)}


@pytest.fixture
def logged(store: MetadataStore, project: Path) -> Logged:
    write(project / "data" / "train.csv", b"x,y\n" + b"1,2\n" * 1000)
    write(project / "data" / "images" / "a.png", os.urandom(5000))
    write(project / "data" / "images" / "nested" / "b.png", os.urandom(7000))
    write(project / "models" / "model.bin", os.urandom(20_000))
    write(project / "raw" / "0.txt", b"slice member zero")
    write(project / "raw" / "1.txt", b"slice member one")
    # cache=False: push itself adds the bytes from the work tree, which is what is tested here.
    with Tracker("vision", store=store, root=project, cache=False) as tracker:
        with tracker.stage("prepare").execution() as run:
            table = run.log_dataset(project / "data" / "train.csv")
            images = run.log_dataset(project / "data" / "images", "output")
            piece = run.log_dataslice("hard", [project / "raw" / "0.txt", project / "raw/1.txt"])
        with tracker.stage("train").execution() as run:
            model = run.log_model(project / "models" / "model.bin")
            run.log_metrics({"accuracy": 0.9})
    return Logged(table=table, images=images, slice=piece, model=model)


def _objects(store: ObjectStore) -> set[Oid]:
    return {oid for oid, _, _ in store.walk()}


def test_push_adds_to_the_cache_and_sends(
    store: MetadataStore, project: Path, logged: Logged, odb: ObjectStore
) -> None:
    report = push(store, odb, root=project)
    cache = Cache(project / ".mltrail" / "cache")  # the project's default cache
    expected = logged.oids()
    everything = _objects(cache)
    assert expected <= everything
    assert len(everything) == len(expected) + 2  # the image directory's two files
    assert _objects(odb) == everything
    assert report.ok and report.transferred == len(everything)
    for artifact in ("table", "model"):
        oid = Oid.parse(str(logged[artifact].external_id))
        assert odb.read_bytes(oid) == cache.local_path(oid).read_bytes()

    again = push(store, odb, root=project)
    assert (again.transferred, again.bytes) == (0, 0)


def test_pull_into_an_empty_cache_at_another_site(
    store: MetadataStore, project: Path, logged: Logged, odb: ObjectStore, tmp_path: Path
) -> None:
    push(store, odb, root=project)
    elsewhere = Cache(tmp_path / "site2" / "cache")
    report = pull(store, odb, cache=elsewhere)
    assert report.ok and _objects(elsewhere) == _objects(odb)
    model = Oid.parse(str(logged["model"].external_id))
    assert elsewhere.local_path(model).read_bytes() == (project / "models/model.bin").read_bytes()
    images = Oid.parse(str(logged["images"].external_id))
    files = dict(elsewhere.read_manifest(images))
    assert (
        elsewhere.local_path(files["nested/b.png"]).read_bytes()
        == (project / "data/images/nested/b.png").read_bytes()
    )
    assert pull(store, odb, cache=elsewhere).transferred == 0


def test_pull_refuses_a_corrupt_object(
    store: MetadataStore, project: Path, logged: Logged, odb: ObjectStore, tmp_path: Path
) -> None:
    push(store, odb, root=project)
    model = Oid.parse(str(logged["model"].external_id))
    overwrite(odb, model, b"tampered")
    elsewhere = Cache(tmp_path / "site2")
    with pytest.raises(FailedPreconditionError, match=f"{model}.*corrupt") as caught:
        pull(store, odb, cache=elsewhere)
    assert "push it again from a site that has it" in str(caught.value)
    assert not elsewhere.has(model)
    assert _objects(elsewhere) == _objects(odb) - {model}  # everything else arrived
    assert not list(elsewhere.tmp_dir.iterdir())


def test_push_refuses_a_file_changed_since_it_was_logged(
    store: MetadataStore, project: Path, logged: Logged, odb: ObjectStore
) -> None:
    (project / "models" / "model.bin").write_bytes(b"retrained meanwhile")
    model = Oid.parse(str(logged["model"].external_id))
    with pytest.raises(FailedPreconditionError, match="changed since it was logged") as caught:
        push(store, odb, root=project)
    message = str(caught.value)
    assert f"artifact {logged['model'].id}" in message and "models/model.bin" in message
    assert not odb.exists(model)
    assert logged.oids() - {model} <= _objects(odb)  # everything else was sent
    assert not Cache(project / ".mltrail" / "cache").has(model)


def test_a_missing_file_already_at_the_remote_is_fine(
    store: MetadataStore, project: Path, logged: Logged, odb: ObjectStore, tmp_path: Path
) -> None:
    push(store, odb, root=project, cache=Cache(tmp_path / "first"))
    (project / "data" / "train.csv").unlink()
    report = push(store, odb, root=project, cache=Cache(tmp_path / "second"))
    assert report.transferred == 0


def test_a_missing_file_nowhere_is_reported(
    store: MetadataStore, project: Path, logged: Logged, odb: ObjectStore
) -> None:
    (project / "data" / "train.csv").unlink()
    with pytest.raises(FailedPreconditionError, match=r"data/train\.csv does not exist"):
        push(store, odb, root=project)


def test_selection_by_artifact_and_context(
    store: MetadataStore, project: Path, logged: Logged, odb: ObjectStore, tmp_path: Path
) -> None:
    cache = Cache(tmp_path / "cache")
    push(store, odb, root=project, cache=cache, artifacts=[logged["model"].id])  # type: ignore[list-item]
    assert _objects(odb) == logged.oids("model")
    push(store, odb, root=project, cache=cache, artifacts=[str(logged["table"].external_id)])
    assert _objects(odb) == logged.oids("model", "table")

    site = Cache(tmp_path / "site")
    pull(store, odb, cache=site, context="vision/train")
    assert _objects(site) == logged.oids("model")

    push(store, odb, root=project, cache=cache, context="vision/prepare")
    pull(store, odb, cache=site, context="vision")
    images = Oid.parse(str(logged["images"].external_id))
    assert _objects(site) == logged.oids() | {m for _, m in site.read_manifest(images)}

    with pytest.raises(NotFoundError, match="no context named"):
        pull(store, odb, cache=site, context="nonexistent")
    with pytest.raises(NotFoundError, match="no artifact with id"):
        pull(store, odb, cache=site, artifacts=[10**6])


def test_a_pipeline_is_selected_in_a_few_statements(
    store: MetadataStore,
    project: Path,
    odb: ObjectStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Tracker("many", store=store, root=project) as tracker:
        for i in range(40):
            with tracker.stage(f"s{i % 4}").execution() as run:
                run.log_dataset(write(project / "many" / f"{i}.txt", f"{i}".encode()))
    calls: list[object] = []
    real = store.database.run

    def counting(fn: object, **kwargs: object) -> object:
        calls.append(fn)
        return real(fn, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.database, "run", counting)
    report = push(store, odb, root=project, cache=Cache(tmp_path / "c"), context="many")
    assert report.transferred == 40
    assert 1 <= len(calls) <= 4


def test_remote_given_by_url(
    store: MetadataStore, project: Path, logged: Logged, tmp_path: Path
) -> None:
    url = str(tmp_path / "odb-dir")
    push(store, url, root=project)
    pulled = pull(store, url, cache=Cache(tmp_path / "site"))
    assert pulled.ok and pulled.transferred == len(_objects(Cache(tmp_path / "site")))


def test_through_a_store_served_over_http(project: Path, tmp_path: Path) -> None:
    """The selection reads go through the remote client's API as well (no SQL underneath)."""
    import mltrail
    from _remote import RemoteServer

    server = RemoteServer(f"sqlite:///{tmp_path / 'served.db'}", tmp_path / "home")
    try:
        store = mltrail.connect(server.url)
        write(project / "a.txt", b"first")
        write(project / "b" / "c.txt", b"second")
        with Tracker("served", store=store, root=project) as tracker:
            with tracker.stage("one").execution() as run:
                first = run.log_dataset(project / "a.txt")
            with tracker.stage("two").execution() as run:
                second = run.log_dataset(project / "b")
        remote_dir = str(tmp_path / "objects")
        report = push(store, remote_dir, root=project, context="served/one")
        assert report.transferred == 1
        site = Cache(tmp_path / "site")
        pulled = pull(store, remote_dir, cache=site, artifacts=[str(first.external_id)])
        assert pulled.transferred == 1
        push(store, remote_dir, root=project)
        assert pull(store, remote_dir, cache=site, context="served").transferred == 2
        assert site.has(Oid.parse(str(second.external_id)))
        store.close()
    finally:
        server.close()


def test_md5_artifacts_land_in_dvc_layout(
    store: MetadataStore, project: Path, tmp_path: Path
) -> None:
    """With md5 hashes a pushed remote is laid out as a DVC 3 remote, byte for byte."""
    import hashlib
    import json

    write(project / "ds" / "x.csv", b"x\n")
    write(project / "ds" / "y" / "z.csv", b"z\n")
    tracker = Tracker("dvc", store=store, root=project, hash_algorithm="md5")
    with tracker, tracker.stage("s").execution() as run:
        logged = run.log_dataset(project / "ds")
    push(store, str(tmp_path / "dvc-remote"), root=project)
    digest = str(logged.external_id).removeprefix("md5:").removesuffix(".dir")
    manifest = tmp_path / "dvc-remote" / "files" / "md5" / digest[:2] / f"{digest[2:]}.dir"
    entries = json.loads(manifest.read_bytes())
    assert entries == [
        {"md5": hashlib.md5(b"x\n").hexdigest(), "relpath": "x.csv"},
        {"md5": hashlib.md5(b"z\n").hexdigest(), "relpath": "y/z.csv"},
    ]
    z = hashlib.md5(b"z\n").hexdigest()
    assert (tmp_path / "dvc-remote" / "files" / "md5" / z[:2] / z[2:]).read_bytes() == b"z\n"
