"""``create_app``: the mltrail server as an object (FastAPI), to serve or to call in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mltrail.errors import FailedPreconditionError, InvalidArgumentError, RequestTooLargeError
from mltrail.remote._api import API_PREFIX, Call, calls
from mltrail.server import _errors, _schema
from mltrail.server._projects import DEFAULT_PROJECT, Projects
from mltrail.server.settings import Settings

if TYPE_CHECKING:
    from mltrail.store import MetadataStore

Handler = Callable[[Request], Awaitable[Response]]


def create_app(store: str | None = None, *, settings: Settings | None = None) -> FastAPI:
    """The server of the store at ``store`` (default: the embedded SQLite file of the working
    tree) and of the projects in its home directory (``settings.home``)."""
    settings = settings or Settings()
    home = settings.resolved_home(store)
    projects = Projects(settings.default_store(store), home)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        projects.close()

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
    _errors.install(app)

    store_api = APIRouter()
    for call in calls().values():
        store_api.add_api_route(
            call.path,
            _store_endpoint(call, settings),
            methods=["POST"],
            name=call.name,
            operation_id=call.name,
            summary=call.summary,
            description=call.doc,
            tags=["store"],
            openapi_extra=_schema.call_openapi(call),
        )
    app.include_router(store_api, prefix=API_PREFIX)
    app.include_router(store_api, prefix="/p/{project}" + API_PREFIX, include_in_schema=False)

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = default_openapi()
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                _schema.COMPONENTS
            )
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    _project_routes(app, projects)

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


def _project_routes(app: FastAPI, projects: Projects) -> None:
    router = APIRouter(prefix=f"{API_PREFIX}/projects", tags=["projects"])

    @router.get("")
    async def list_projects() -> dict[str, list[str]]:
        """The projects of this server."""
        return {"projects": await run_in_threadpool(projects.names)}

    @router.post("", status_code=201)
    async def create_project(request: Request) -> dict[str, str]:
        """Create a project (an empty store): ``{"name": "<project>"}``."""
        data = await _json_body(request, 4096)
        name = data.get("name") if type(data) is dict else None
        if not isinstance(name, str):
            raise InvalidArgumentError('the body must be {"name": "<project>"}')
        await run_in_threadpool(projects.create, name)
        return {"name": name}

    @router.post("/{name}/reopen")
    async def reopen_project(name: str) -> dict[str, str]:
        """Close the project's database and forget what the server read of it (after its
        database was restored from a backup); the next request opens it again."""
        await run_in_threadpool(projects.reopen, name)
        return {"name": name}

    app.include_router(router)


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


def _store_endpoint(call: Call, settings: Settings) -> Handler:
    limit = settings.max_body_bytes

    async def endpoint(request: Request) -> Response:
        projects: Projects = request.app.state.projects
        project = request.path_params.get("project", DEFAULT_PROJECT)
        kwargs = call.decode_arguments(await _json_body(request, limit))

        def run() -> Any:
            store = projects.store(project)
            return call.encode_result(getattr(store, call.name)(**kwargs))

        result = await run_in_threadpool(run)
        return Response(json.dumps({"result": result}), media_type="application/json")

    endpoint.__name__ = call.name
    return endpoint


async def _json_body(request: Request, limit: int) -> Any:
    body = await _read_body(request, limit)
    try:
        return json.loads(body) if body else {}
    except ValueError as exc:
        raise InvalidArgumentError(f"the request body is not JSON: {exc}") from None
    except RecursionError:
        raise InvalidArgumentError("the request body is nested too deeply") from None


async def _read_body(request: Request, limit: int) -> bytes:
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
