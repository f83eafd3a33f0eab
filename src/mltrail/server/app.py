"""``create_app``: the mltrail server as an object (FastAPI), to serve or to call in-process."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mltrail.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    RequestTooLargeError,
)
from mltrail.remote._api import API_PREFIX, calls
from mltrail.server import _errors, _schema, admin, lineage, sync
from mltrail.server._projects import DEFAULT_PROJECT, Projects
from mltrail.server.settings import Settings

if TYPE_CHECKING:
    from mltrail.server.tokens import Registry
    from mltrail.store import MetadataStore

Handler = Callable[[Request], Awaitable[Response]]


class Guard:
    """Checks a request's token for a role on a project; lets everything through when the
    server runs without authentication (which it does only on a loopback address)."""

    def __init__(self, registry: Registry | None) -> None:
        self.registry = registry

    def check(self, request: Request, project: str, role: str) -> None:
        if self.registry is not None:
            self.registry.authorize(request.headers.get("authorization"), project, role)


def create_app(store: str | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The server of the store at ``store`` (default: the embedded SQLite file of the working
    tree) and of the projects in its home directory (``settings.home``).

    With ``settings.auth`` every call needs a bearer token of the registry
    (:mod:`mltrail.server.tokens`) that grants its role on its project.
    """
    settings = settings or Settings()
    home = settings.resolved_home(store)
    projects = Projects(settings.default_store(store), home)
    registry = None
    if settings.auth:
        from mltrail.server.tokens import Registry

        registry = Registry(settings.registry_url(home))
    guard = Guard(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        projects.close()
        if registry is not None:
            registry.close()

    app = FastAPI(
        title="mltrail",
        summary="The metadata store of machine-learning work: artifacts, executions, contexts "
        "and their lineage.",
        version=_version(),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.projects = projects
    app.state.settings = settings
    app.state.registry = registry
    _errors.install(app)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type"],
        )

    # One route serves every store call (matching a route per method cost more than the
    # dispatch); the API document still describes each call on its own path.
    # A plain Starlette route: the endpoint reads its body itself, so FastAPI's request
    # handling (dependencies, body models) would only add work.
    endpoint = _store_endpoint(settings, guard)
    for prefix in (API_PREFIX, "/p/{project}" + API_PREFIX):
        app.add_route(prefix + "/store/{method}", endpoint, ["POST"], include_in_schema=False)
    app.include_router(admin.router(projects, registry, guard))
    app.include_router(sync.router(projects, guard, settings.max_body_bytes))
    app.include_router(lineage.router(projects, guard, settings.max_body_bytes))
    from mltrail.server import ui

    ui.install(app, projects, registry)

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = default_openapi()
            paths = document.setdefault("paths", {})
            for call in calls().values():
                paths[API_PREFIX + call.path] = {"post": _schema.operation(call)}
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                _schema.COMPONENTS
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> Response:
        """The default project's database is reachable and its schema current."""
        version = await run_in_threadpool(_schema_version, projects.store(DEFAULT_PROJECT))
        body = {"status": "ready", "schema_version": version}
        return Response(json.dumps(body), media_type="application/json")

    return app


def _schema_version(store: MetadataStore) -> int:
    """The database's schema version, read now; FailedPreconditionError when it is not the
    library's (another process migrated the database, or it was replaced)."""
    from mltrail.backends.sql.migrations import library_schema_version, read_schema_version

    found = store.database.run(read_schema_version, write=False)
    wanted = library_schema_version()
    if found != wanted:
        raise FailedPreconditionError(
            f"the default project's database has schema version {found}, this server expects "
            f"{wanted}; restart the server (it migrates on start) or upgrade mltrail"
        )
    return found


def _store_endpoint(settings: Settings, guard: Guard) -> Handler:
    limit = settings.max_body_bytes
    catalog = calls()

    async def endpoint(request: Request) -> Response:
        projects: Projects = request.app.state.projects
        project = request.path_params.get("project", DEFAULT_PROJECT)
        call = catalog.get(request.path_params["method"])
        if call is None:
            raise NotFoundError(
                f"no such route: POST {request.url.path}; the store calls are listed in "
                f"{API_PREFIX}/openapi.json"
            )
        role = "reader" if call.read else "writer"
        body = await read_body(request, limit)

        def run() -> tuple[list[bytes], Iterator[bytes]]:
            # One trip to the thread pool: the token, the arguments, the call and the answer
            # (its first two pieces: one piece is a short answer, sent with its length).
            guard.check(request, project, role)
            kwargs = call.decode_arguments(parse_json(body))
            store = projects.store(project)
            chunks = call.answer_chunks(getattr(store, call.name)(**kwargs))
            return list(itertools.islice(chunks, 2)), chunks

        head, rest = await run_in_threadpool(run)
        if len(head) == 1:
            return Response(head[0], media_type="application/json")
        return StreamingResponse(itertools.chain(head, rest), media_type="application/json")

    return endpoint


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else {}
    except ValueError as exc:
        raise InvalidArgumentError(f"the request body is not JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgumentError("the request body is nested too deeply") from None


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with RequestTooLargeError (413) beyond ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(_too_large(limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(_too_large(limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> str:
    return (
        f"the request body is larger than this server's limit of {limit:,} bytes; send the "
        "work in smaller calls, or start the server with a larger --max-body-size"
    )


def _version() -> str:
    import mltrail

    return mltrail.__version__


__all__ = ["create_app"]
