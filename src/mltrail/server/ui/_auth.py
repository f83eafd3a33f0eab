"""Who may see the UI: a reader of the project, by the bearer header or the sign-in cookie.

Signing in (``POST /ui/signin`` with a token) checks the token against the registry and keeps it
in a cookie that scripts cannot read (HttpOnly), that other sites' pages do not send
(SameSite=Strict) and that goes over HTTPS only when the page came over HTTPS. The UI only reads,
so no other form changes anything; signing out clears the cookie. A page refused for want of a
token shows the sign-in form in its place, and signing in there returns to that page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from mltrail.errors import MltrailError
from mltrail.server._projects import DEFAULT_PROJECT

if TYPE_CHECKING:
    from mltrail.server.tokens import Registry
    from mltrail.server.ui import Pages

COOKIE = "mltrail_token"
#: The largest sign-in form accepted (bytes): a token is about 50.
FORM_LIMIT = 4096


def cookie_token(request: Request) -> str | None:
    value = request.cookies.get(COOKIE, "").strip()
    return value or None


def check(registry: Registry | None, request: Request, project: str) -> None:
    """Raise UnauthenticatedError or PermissionDeniedError unless the request may read
    ``project`` (always allowed when the server runs without authentication)."""
    if registry is None:
        return
    header = request.headers.get("authorization")
    if header is None and cookie_token(request) is not None:
        header = f"Bearer {cookie_token(request)}"
    registry.authorize(header, project, "reader")


def asked_for(request: Request) -> str:
    """The page a request asked for (path and query), where signing in returns to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def return_to(wanted: str, home: str) -> str:
    """Where a sign-in goes on: ``wanted`` when it is a page of the same project's UI on this
    server (a path under ``home``, no scheme, host or backslash), else ``home``. A form field
    must not send a browser to another site."""
    from urllib.parse import urlsplit

    parts = urlsplit(wanted)
    local = not parts.scheme and not parts.netloc and "\\" not in wanted
    return wanted if local and wanted.startswith(home) and "//" not in wanted else home


def install(pages: Pages) -> None:
    from starlette.concurrency import run_in_threadpool

    from mltrail.server.app import read_body

    async def signin_form(request: Request) -> Response:
        return pages.render(request, "signin.html", {"error": None})

    async def signin(request: Request) -> Response:
        from urllib.parse import parse_qs

        project = request.path_params.get("project", DEFAULT_PROJECT)
        body = await read_body(request, FORM_LIMIT)
        form = parse_qs(body.decode("utf-8", "replace"))
        token = form.get("token", [""])[0].strip()
        home = pages.prefixes(project)["ui"] + "/"
        back = return_to(form.get("next", [""])[0], home)
        if pages.registry is None:
            return RedirectResponse(back, status_code=303)
        try:
            await run_in_threadpool(pages.registry.authorize, f"Bearer {token}", project, "reader")
        except MltrailError as exc:
            return pages.render(
                request, "signin.html", {"error": exc, "next": back}, status=exc.http_status
            )
        answer = RedirectResponse(back, status_code=303)
        answer.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return answer

    async def signout(request: Request) -> Response:
        project = request.path_params.get("project", DEFAULT_PROJECT)
        answer = RedirectResponse(pages.prefixes(project)["ui"] + "/signin", status_code=303)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    for prefix in ("", "/p/{project}"):
        pages.app.add_api_route(
            f"{prefix}/ui/signin", signin_form, methods=["GET"], include_in_schema=False
        )
        pages.app.add_api_route(
            f"{prefix}/ui/signin", signin, methods=["POST"], include_in_schema=False
        )
        pages.app.add_api_route(
            f"{prefix}/ui/signout", signout, methods=["POST"], include_in_schema=False
        )
