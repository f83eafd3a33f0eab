"""CMF scripts that log datasets and models by ``s3://`` URL, against a real S3 server
(SeaweedFS): the object is recorded by its URL and, being reachable, by its content, so the same
bytes logged from the disk are the same artifact; an object that is not there is recorded by
its URL alone and the call does not fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrail as m
from _storage_servers import SeaweedServer
from mltrail.compat.cmf import Cmf


@pytest.fixture
def s3_credentials(
    s3_server: SeaweedServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SeaweedServer]:
    """The S3 server named the way a CMF user's environment names it (AWS variables)."""
    import s3fs

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    s3fs.S3FileSystem.clear_instance_cache()  # instances made before would keep old settings
    yield s3_server
    s3fs.S3FileSystem.clear_instance_cache()


def test_an_s3_dataset_is_recorded_by_url_and_content(
    s3_credentials: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    server = s3_credentials
    remote = s3fs.S3FileSystem(**server.options)
    prefix = f"{server.bucket}/cmf-{tmp_path.name}"
    remote.pipe(f"{prefix}/train.csv", b"a,b\n1,2\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.csv").write_bytes(b"a,b\n1,2\n")

    cmf = Cmf(filepath="mlmd", pipeline_name="s3")
    cmf.create_context("Prepare")
    execution = cmf.create_execution("Prepare")
    url = f"s3://{prefix}/train.csv"
    dataset = cmf.log_dataset(url, "input")
    local = cmf.log_dataset("train.csv", "input")
    missing = cmf.log_dataset(f"s3://{prefix}/missing.csv", "input")
    cmf.finalize()

    assert dataset.id == local.id  # one artifact: the bytes are the same
    assert dataset.external_id == cmf.tracker.digest(tmp_path / "train.csv").external_id
    assert (dataset.uri, dataset.properties["kind"], dataset.properties["size"]) == (url, "url", 8)
    assert missing.external_id == f"url:s3://{prefix}/missing.csv"
    assert "size" not in missing.properties
    with m.connect(tmp_path / "mlmd") as store:  # the file filepath names
        events = store.get_events_by_execution_ids([execution.id or 0])
        assert {dataset.id, missing.id} <= {e.artifact_id for e in events}
        [stored] = store.get_artifacts_by_id([dataset.id or 0])
        assert stored.properties["paths"] == [url, "train.csv"]
