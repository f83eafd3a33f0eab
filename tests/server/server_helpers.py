"""Helpers of the server tests."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

import mltrail as m
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


def log_runs(store: m.MetadataStore, *runs: str) -> None:
    """A dataset read by one training run per name, each writing a model, in a pipeline."""
    store.put_artifact_type(m.ArtifactType(name="Dataset", properties={"rows": m.PropertyType.INT}))
    store.put_artifact_type(m.ArtifactType(name="Model"))
    store.put_execution_type(m.ExecutionType(name="Train"))
    store.put_context_type(m.ContextType(name="Pipeline"))
    for run in runs:
        store.put_execution(
            m.Execution(type="Train", custom_properties={"run": run}),
            [
                (
                    m.Artifact(
                        type="Dataset",
                        uri="s3://d/src",
                        external_id="sha256:src",
                        properties={"rows": 3},
                    ),
                    m.Event(type=m.EventType.INPUT),
                ),
                (m.Artifact(type="Model", uri=f"s3://m/{run}"), m.Event(type=m.EventType.OUTPUT)),
            ],
            [m.Context(type="Pipeline", name="mnist")],
            reuse_context_if_already_exist=True,
            reuse_artifact_if_already_exist_by_external_id=True,
        )
