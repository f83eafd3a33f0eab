"""Routes that manage the server: projects and tokens.

Listing projects shows those the token may read; creating one needs an admin of every project
(``"*"``); reopening a project, and listing, creating and revoking its tokens, need an admin of
that project. Without authentication the server serves only its own machine, and these routes
are open like every other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from mltrail.errors import InvalidArgumentError
from mltrail.remote._api import API_PREFIX
from mltrail.server._projects import Projects

if TYPE_CHECKING:
    from mltrail.server.app import Guard
    from mltrail.server.tokens import Registry, Token

#: The largest body of an admin request (bytes).
ADMIN_BODY_LIMIT = 4096


def router(projects: Projects, registry: Registry | None, guard: Guard) -> APIRouter:
    from mltrail.server.app import parse_json, read_body

    api = APIRouter(prefix=API_PREFIX)

    async def body_of(request: Request) -> dict[str, Any]:
        data = parse_json(await read_body(request, ADMIN_BODY_LIMIT))
        if type(data) is not dict:
            raise InvalidArgumentError("the request body must be a JSON object")
        return data

    @api.get("/projects", tags=["projects"])
    async def list_projects(request: Request) -> dict[str, list[str]]:
        """The projects of this server that the token may read."""

        def run() -> list[str]:
            names = projects.names()
            if registry is None:
                return names
            token = registry.authenticate(request.headers.get("authorization"))
            return [n for n in names if token.allows(n, "reader")]

        return {"projects": await run_in_threadpool(run)}

    @api.post("/projects", status_code=201, tags=["projects"])
    async def create_project(request: Request) -> dict[str, str]:
        """Create a project (an empty store): ``{"name": "<project>"}``. Needs an admin of
        every project."""
        data = await body_of(request)
        name = data.get("name")
        if not isinstance(name, str):
            raise InvalidArgumentError('the body must be {"name": "<project>"}')

        def run() -> None:
            guard.check(request, "*", "admin")
            projects.create(name)

        await run_in_threadpool(run)
        return {"name": name}

    @api.post("/projects/{name}/reopen", tags=["projects"])
    async def reopen_project(request: Request, name: str) -> dict[str, str]:
        """Close the project's database and forget what the server read of it (after its
        database was restored from a backup); the next request opens it again."""

        def run() -> None:
            guard.check(request, name, "admin")
            projects.reopen(name)

        await run_in_threadpool(run)
        return {"name": name}

    @api.get("/tokens", tags=["tokens"])
    async def list_tokens(request: Request, project: str) -> dict[str, list[dict[str, Any]]]:
        """The tokens of a project (never their secrets). Needs an admin of the project."""

        def run() -> list[Token]:
            guard.check(request, project, "admin")
            return _registry(registry).list(project)

        return {"tokens": [_token_json(t) for t in await run_in_threadpool(run)]}

    @api.post("/tokens", status_code=201, tags=["tokens"])
    async def create_token(request: Request) -> dict[str, Any]:
        """Create a token: ``{"project": ..., "role": "reader|writer|admin", "name": ...}``.
        Needs an admin of the project; the answer's ``token`` is the only copy of the secret."""
        data = await body_of(request)
        project, role, name = data.get("project"), data.get("role"), data.get("name", "")
        if not isinstance(project, str) or not isinstance(role, str):
            raise InvalidArgumentError(
                'the body must be {"project": "<project>", "role": "reader|writer|admin"}'
            )

        def run() -> tuple[str, Token]:
            guard.check(request, project, "admin")
            return _registry(registry).create(project, role, name)

        secret, token = await run_in_threadpool(run)
        return {"token": secret, **_token_json(token)}

    @api.delete("/tokens/{token_id}", tags=["tokens"])
    async def revoke_token(request: Request, token_id: int) -> dict[str, Any]:
        """Revoke a token at once. Needs an admin of the token's project."""

        def run() -> Token:
            found = _registry(registry)
            guard.check(request, found.get(token_id).project, "admin")
            return found.revoke(token_id)

        return _token_json(await run_in_threadpool(run))

    return api


def _registry(registry: Registry | None) -> Registry:
    if registry is None:
        from mltrail.errors import FailedPreconditionError

        raise FailedPreconditionError(
            "this server runs without authentication, so it has no tokens; start it with "
            "--auth (tokens are made with mltrail token create)"
        )
    return registry


def _token_json(token: Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "project": token.project,
        "role": token.role,
        "name": token.name,
        "created_ms": token.created_ms,
        "revoked_ms": token.revoked_ms,
    }
