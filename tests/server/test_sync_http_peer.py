"""HttpPeer on a real server through a transport that drops connections: reads are sent again,
a batch is sent again only when the server's position shows it was not applied, and a transfer
cut off after the server applied a batch resumes with nothing lost or applied twice."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from server_helpers import log_runs

import mltrail as m
from _canon import canon
from _remote import RemoteServer, free_port
from mltrail import sync
from mltrail.errors import UnavailableError
from mltrail.sync._http import HttpPeer


class Dropping(httpx.BaseTransport):
    """A real transport whose first request to each named route fails as a dropped
    connection (``"before"`` it reaches the server, or ``"after"`` the server answered) or as
    a timeout (``"timeout"``: no answer in time)."""

    def __init__(self, **drop: str) -> None:
        self.inner = httpx.HTTPTransport()
        self.drop = drop
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        route = request.url.path.rsplit("/", 1)[-1]
        self.sent.append(route)
        when = self.drop.pop(route, None)
        if when == "before":
            raise httpx.ReadError("connection reset by peer", request=request)
        if when == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        response = self.inner.handle_request(request)
        if when == "after":
            response.read()
            response.close()
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RemoteServer]:
    started = RemoteServer(f"sqlite:///{tmp_path / 'central.db'}", tmp_path / "home")
    yield started
    started.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[m.MetadataStore]:
    with m.connect(f"sqlite:///{tmp_path / 'site.db'}") as store:
        log_runs(store, "run-1", "run-2", "run-3")
        yield store


def central(server: RemoteServer) -> m.MetadataStore:
    assert server.store is not None
    return m.connect(server.store)


def test_reads_are_sent_again_after_a_dropped_connection(
    server: RemoteServer, site: m.MetadataStore, tmp_path: Path
) -> None:
    pushing = Dropping(site="before", applied="before")
    with closing(HttpPeer(server.url, transport=pushing)) as peer:
        sync.push(site, peer)
    assert pushing.sent[:4] == ["site", "site", "applied", "applied"]
    pulling = Dropping(site="before", changes="before")
    with (
        m.connect(f"sqlite:///{tmp_path / 'other.db'}") as other,
        closing(HttpPeer(server.url, transport=pulling)) as peer,
    ):
        sync.pull(other, peer)
        assert canon(other) == canon(site)
    assert pulling.sent.count("changes") == 3  # one dropped, one batch, one saying "no more"


def test_a_batch_that_never_arrived_is_sent_again(
    server: RemoteServer, site: m.MetadataStore
) -> None:
    transport = Dropping(apply="before")
    with closing(HttpPeer(server.url, transport=transport)) as peer:
        report = sync.push(site, peer, batch_size=4)
    # the server's position is read again before the batch is resent
    first = transport.sent.index("apply")
    assert transport.sent[first : first + 3] == ["apply", "applied", "apply"]
    with central(server) as store:
        assert canon(store) == canon(site)
        assert store.count_executions() == 3
    assert report.batches == transport.sent.count("apply") - 1


def test_a_batch_applied_before_the_connection_dropped_is_not_sent_again(
    server: RemoteServer, site: m.MetadataStore
) -> None:
    transport = Dropping(apply="after")
    with (
        closing(HttpPeer(server.url, transport=transport)) as peer,
        pytest.raises(UnavailableError, match="may have been applied"),
    ):
        sync.push(site, peer, batch_size=4)
    assert transport.sent.count("apply") == 1  # not resent: the position moved
    resumed = sync.push(site, server.url, batch_size=4)
    whole = sync.push(site, f"sqlite:///{server.home / 'copy.db'}", batch_size=4)
    assert resumed.batches == whole.batches - 1  # everything after the applied batch
    with central(server) as store:
        assert canon(store) == canon(site)
        assert (store.count_artifacts(), store.count_executions()) == (4, 3)


def test_a_batch_whose_answer_timed_out_is_not_sent_again(
    server: RemoteServer, site: m.MetadataStore
) -> None:
    transport = Dropping(apply="timeout")
    with (
        closing(HttpPeer(server.url, transport=transport)) as peer,
        pytest.raises(UnavailableError, match="may have been applied"),
    ):
        sync.push(site, peer)
    # the server may still be applying it: neither resent nor asked about
    assert transport.sent[transport.sent.index("apply") :] == ["apply"]
    assert sync.push(site, server.url).created > 0  # it never arrived: the next push sends it


def test_an_empty_bundle_sends_nothing(server: RemoteServer, tmp_path: Path) -> None:
    (tmp_path / "empty.mltrail").write_bytes(b"")
    report = sync.push(str(tmp_path / "empty.mltrail"), server.url)
    assert (report.batches, report.records) == (0, 0)


def test_a_server_that_is_not_there_is_unavailable(site: m.MetadataStore) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UnavailableError, match=f"cannot reach the mltrail server at {url}"):
        sync.push(site, url)
