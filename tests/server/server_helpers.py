"""Helpers of the server tests."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from _remote import RemoteServer
from mltrail.server.tokens import Registry


@dataclass
class AuthServer:
    """A server with authentication on, its token registry and an admin token of everything."""

    server: RemoteServer
    registry: Registry
    admin: str

    @property
    def url(self) -> str:
        return self.server.url

    def token(self, project: str, role: str) -> str:
        return self.registry.create(project, role, "test")[0]

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def post(
    client: httpx.Client, method: str, project: str | None = None, **body: object
) -> httpx.Response:
    """POST a store call with a JSON body of its arguments."""
    prefix = f"/p/{project}" if project else ""
    return client.post(f"{prefix}/api/v1/store/{method}", json=body)
