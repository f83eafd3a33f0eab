"""The token registry on every database it can live in (replicas share a server database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from _servers import SERVERS, Server, need
from mltrail.errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from mltrail.server.tokens import Registry, digest


@pytest.fixture(params=["sqlite-file", *SERVERS])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Registry:
    kind = str(request.param)
    if kind == "sqlite-file":
        url = f"sqlite:///{tmp_path / 'server.db'}"
    else:
        servers: dict[str, Server] = request.getfixturevalue("servers")
        need(servers[kind])
        url = servers[kind].new_database("registry")
    found = Registry(url)
    request.addfinalizer(found.close)
    return found


def test_a_token_grants_its_role_on_its_project(registry: Registry) -> None:
    secret, token = registry.create("vision", "writer", "ci")
    header = f"Bearer {secret}"
    assert registry.authorize(header, "vision", "reader").id == token.id
    assert registry.authorize(header, "vision", "writer").id == token.id
    with pytest.raises(PermissionDeniedError, match="needs an admin"):
        registry.authorize(header, "vision", "admin")
    with pytest.raises(PermissionDeniedError, match="project 'other'"):
        registry.authorize(header, "other", "reader")
    everything, _ = registry.create("*", "reader")
    assert registry.authorize(f"Bearer {everything}", "any-project", "reader")


def test_only_digests_are_kept_and_revocation_is_immediate(registry: Registry) -> None:
    secret, token = registry.create("default", "admin")
    assert [t.id for t in registry.list("default")] == [token.id]
    assert registry.list("default")[0].revoked_ms is None
    assert len(digest(secret)) == 64 and digest(secret) != secret
    registry.revoke(token.id)
    assert registry.get(token.id).revoked_ms is not None
    with pytest.raises(UnauthenticatedError, match="revoked"):
        registry.authenticate(f"Bearer {secret}")


def test_bad_requests(registry: Registry) -> None:
    with pytest.raises(InvalidArgumentError, match="role"):
        registry.create("default", "owner")
    with pytest.raises(InvalidArgumentError, match="project name"):
        registry.create("Not Valid", "reader")
    with pytest.raises(NotFoundError):
        registry.revoke(999)
    with pytest.raises(UnauthenticatedError):
        registry.authenticate(None)
    with pytest.raises(UnauthenticatedError, match="Bearer"):
        registry.authenticate("Token abc")
