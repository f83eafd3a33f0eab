"""The test suite's own server handling: an unreachable server skips its tests, or fails them
when MLTRAIL_REQUIRE_BACKENDS is set (as in CI)."""

from __future__ import annotations

import pytest

from _servers import ENV, Server, need, required


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Server:
    monkeypatch.setenv(ENV["postgresql"], "postgresql://nobody@127.0.0.1:1/none?connect_timeout=5")
    server = Server("postgresql")
    assert server.unreachable is not None and "127.0.0.1:1" in server.unreachable
    return server


@pytest.mark.parametrize("value", ["", "0"])
def test_an_unreachable_server_skips_when_not_required(
    unreachable: Server, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MLTRAIL_REQUIRE_BACKENDS", value)
    assert not required()
    with pytest.raises(pytest.skip.Exception, match="cannot reach the postgresql server"):
        need(unreachable)


def test_an_unreachable_server_fails_when_required(
    unreachable: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRAIL_REQUIRE_BACKENDS", "1")
    assert required()
    with pytest.raises(pytest.fail.Exception, match="MLTRAIL_REQUIRE_BACKENDS is set"):
        need(unreachable)


def test_unset_means_not_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRAIL_REQUIRE_BACKENDS", raising=False)
    assert not required()
