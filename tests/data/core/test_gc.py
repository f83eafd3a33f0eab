"""Garbage collection of the cache against a store's artifacts."""

from __future__ import annotations

import os
import time

import pytest
from data_helpers import put, put_directory

from mltrail import Artifact, ArtifactType, MetadataStore, PropertyType
from mltrail.data import Cache, Oid, gc
from mltrail.errors import InvalidArgumentError

HOUR = 3600.0


def _age(cache: Cache, oids: list[Oid], seconds: float) -> None:
    then = time.time() - seconds
    for oid in oids:
        os.utime(cache.local_path(oid), (then, then))


def _file_type(store: MetadataStore) -> None:
    store.put_artifact_type(
        ArtifactType(
            name="Dataset",
            properties={"kind": PropertyType.STRING, "files": PropertyType.STRUCT},
        )
    )


def test_unreferenced_objects_go_referenced_ones_stay(store: MetadataStore, cache: Cache) -> None:
    _file_type(store)
    kept_file = put(cache, b"logged file")
    directory, members = put_directory(cache, {"a": b"A", "b": b"B"})
    slice_member = put(cache, b"slice member")
    garbage = [put(cache, f"garbage {i}".encode()) for i in range(3)]
    orphan_dir, orphan_members = put_directory(cache, {"z": b"only here"})
    everything = [kept_file, directory, *members.values(), slice_member, *garbage]
    everything += [orphan_dir, *orphan_members.values()]
    _age(cache, everything, 2 * HOUR)
    store.put_artifacts(
        [
            Artifact(type="Dataset", external_id=str(kept_file), properties={"kind": "file"}),
            Artifact(type="Dataset", external_id=str(directory), properties={"kind": "directory"}),
            Artifact(
                type="Dataset",
                external_id="sha256:" + "0" * 64,
                properties={"files": [{"path": "s/x", "digest": str(slice_member), "size": 12}]},
            ),
        ]
    )
    unreferenced = sorted([*garbage, orphan_dir, *orphan_members.values()])

    dry = gc(store, cache)
    assert dry.dry_run and dry.removed == unreferenced
    assert dry.kept == 5 and dry.young == 0
    assert all(cache.has(oid) for oid in everything)  # a dry run removes nothing

    sizes = {oid: size for oid, size, _ in cache.walk()}
    done = gc(store, cache, dry_run=False)
    assert done.removed == unreferenced
    assert done.removed_bytes == dry.removed_bytes == sum(sizes[oid] for oid in unreferenced)
    left = {oid for oid, _, _ in cache.walk()}
    assert left == {kept_file, directory, *members.values(), slice_member}
    assert gc(store, cache, dry_run=False).removed == []


def test_young_objects_stay(store: MetadataStore, cache: Cache) -> None:
    fresh = put(cache, b"being logged right now")
    old = put(cache, b"old garbage")
    _age(cache, [old], 2 * HOUR)
    report = gc(store, cache, dry_run=False)
    assert report.removed == [old] and report.young == 1
    assert cache.has(fresh) and not cache.has(old)
    assert gc(store, cache, dry_run=False, min_age=0).removed == [fresh]


def test_stale_temporaries_go(store: MetadataStore, cache: Cache) -> None:
    cache.tmp_dir.mkdir(parents=True)
    stale, fresh = cache.tmp_dir / "stale.partial", cache.tmp_dir / "fresh.partial"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    then = time.time() - 2 * HOUR
    os.utime(stale, (then, then))
    assert gc(store, cache).temporaries == 1 and stale.exists()
    assert gc(store, cache, dry_run=False).temporaries == 1
    assert not stale.exists() and fresh.exists()


def test_min_age_must_be_sensible(store: MetadataStore, cache: Cache) -> None:
    with pytest.raises(InvalidArgumentError, match="min_age"):
        gc(store, cache, min_age=-1)


def test_gc_reads_the_store_in_pages_not_per_artifact(
    store: MetadataStore, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    _file_type(store)
    oids = [put(cache, f"file {i}".encode()) for i in range(300)]
    store.put_artifacts(
        [Artifact(type="Dataset", external_id=str(o), properties={"kind": "file"}) for o in oids]
    )
    calls: list[str] = []
    real = store.database.run

    def counting(fn: object, **kwargs: object) -> object:
        calls.append("run")
        return real(fn, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.database, "run", counting)
    report = gc(store, cache, min_age=0)
    assert report.removed == [] and report.kept == 300
    assert 1 <= len(calls) <= 3
