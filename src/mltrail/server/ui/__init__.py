"""The web UI: server-rendered pages over a project's store, with a JSON twin of each.

A page is registered once (:func:`Pages.page`) with the function that builds its model (a plain
dict) from the store and the query; it is then served four ways: as HTML at ``/ui<path>`` (the
default project) and ``/p/<project>/ui<path>``, and as JSON at ``/api/v1/ui<path>`` and
``/p/<project>/api/v1/ui<path>`` (the same model, for scripts and for the pages' own JavaScript).
Templates (Jinja2, autoescaped) render the model; the JavaScript of a page gets its data as JSON
in a ``<script type="application/json">`` element or from the twin, never as markup, and the
Content-Security-Policy forbids inline scripts. Every page needs a reader of its project when the
server has authentication on: a browser signs in with a token at ``/ui/signin`` (kept in an
HttpOnly, SameSite=Strict cookie); scripts send it as a bearer header.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mltrail.errors import MltrailError, PermissionDeniedError, UnauthenticatedError
from mltrail.remote._api import API_PREFIX
from mltrail.server._projects import DEFAULT_PROJECT, Projects
from mltrail.server.ui import _auth

if TYPE_CHECKING:
    from jinja2 import Environment

    from mltrail.server.tokens import Registry
    from mltrail.store import MetadataStore

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

#: Headers of every UI response: no inline script or style, nothing framed, nothing sniffed.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}

Builder = Callable[["MetadataStore", Mapping[str, Any]], dict[str, Any]]


class Pages:
    """The UI's routes on ``app``; :meth:`page` adds one page (HTML and JSON twin)."""

    def __init__(self, app: FastAPI, projects: Projects, registry: Registry | None) -> None:
        self.app = app
        self.projects = projects
        self.registry = registry

    def prefixes(self, project: str) -> dict[str, str]:
        """The URL prefixes of ``project``'s pages (``ui``), API (``api``) and static files."""
        base = "" if project == DEFAULT_PROJECT else f"/p/{project}"
        return {"ui": f"{base}/ui", "api": f"{base}{API_PREFIX}", "static": "/ui/static"}

    def page(self, path: str, template: str) -> Callable[[Builder], Builder]:
        """Serve ``template`` over the model a function builds, at ``path`` (and its twin)."""

        def register(build: Builder) -> Builder:
            for prefix in ("", "/p/{project}"):
                self.app.add_api_route(
                    f"{prefix}/ui{path}",
                    self._html(build, template),
                    methods=["GET"],
                    include_in_schema=False,
                    response_class=HTMLResponse,
                )
                self.app.add_api_route(
                    f"{prefix}{API_PREFIX}/ui{path}",
                    self._json(build),
                    methods=["GET"],
                    tags=["ui"],
                    summary=f"The model of the UI page {path}",
                    include_in_schema=prefix == "",
                )
            return build

        return register

    def _model(self, request: Request, build: Builder) -> dict[str, Any]:
        project = request.path_params.get("project", DEFAULT_PROJECT)
        _auth.check(self.registry, request, project)
        params: dict[str, Any] = dict(request.query_params)
        params.update({k: v for k, v in request.path_params.items() if k != "project"})
        params["_multi"] = {k: request.query_params.getlist(k) for k in request.query_params}
        return build(self.projects.store(project), params)

    def _json(self, build: Builder) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            model = await run_in_threadpool(self._model, request, build)
            return JSONResponse(model, headers=SECURITY_HEADERS)

        return endpoint

    def _html(self, build: Builder, template: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            project = request.path_params.get("project", DEFAULT_PROJECT)
            try:
                model = await run_in_threadpool(self._model, request, build)
            except (UnauthenticatedError, PermissionDeniedError) as exc:
                back = _auth.asked_for(request)
                return self.render(
                    request, "signin.html", {"error": exc, "next": back}, status=exc.http_status
                )
            except MltrailError as exc:
                return self.render(request, "error.html", {"error": exc}, status=exc.http_status)
            return self.render(request, template, {"model": model, "project": project})

        return endpoint

    def render(
        self, request: Request, template: str, context: dict[str, Any], *, status: int = 200
    ) -> HTMLResponse:
        """``template`` rendered with ``context`` plus the request's prefixes and project."""
        project = request.path_params.get("project", DEFAULT_PROJECT)
        context = {
            "project": project,
            "prefix": self.prefixes(project),
            "auth": self.registry is not None,
            "signed_in": _auth.cookie_token(request) is not None,
            "query": request.query_params,
            **context,
        }
        html = environment().get_template(template).render(context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """The templates, autoescaped (every ``{{ value }}`` is escaped for HTML)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from mltrail.server.ui import _filters

    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(_filters.FILTERS)
    return env


def install(app: FastAPI, projects: Projects, registry: Registry | None) -> Pages:
    """Add the UI to ``app``: its static files, sign-in, and every page."""
    from starlette.staticfiles import StaticFiles

    from mltrail.server.ui import graphs, views

    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    pages = Pages(app, projects, registry)
    _auth.install(pages)
    views.install(pages)
    graphs.install(pages)

    async def root() -> Response:
        return RedirectResponse("/ui/", status_code=307)

    app.add_api_route("/", root, methods=["GET"], include_in_schema=False)
    return pages


__all__ = ["Pages", "install"]
