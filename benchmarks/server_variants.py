"""The mltrail server with experimental changes, to measure them before making them.

    python benchmarks/server_variants.py STORE --port P --home DIR --variant one-route,uvloop

Variants (comma-separated; none is the server as ``mltrail serve`` runs it with one worker):

- ``no-access-log``: uvicorn does not log each request.
- ``one-route``: one route ``/api/v1/store/{method}`` placed first dispatches by name to the
  store calls' handlers, instead of FastAPI trying the calls' routes one by one. (It would skip
  anything attached to the per-call routes, such as dependencies: a measurement, not a design.)
- ``no-thread``: the store call runs on the event loop instead of a worker thread. Unsafe (one
  slow call stops every other request); it shows what the hand-off to a thread costs.
- ``uvloop``: uvicorn's ``httptools`` parser and the ``uvloop`` event loop (both must be
  installed: ``pip install httptools uvloop``); otherwise the server uses h11 and asyncio, as
  ``mltrail serve`` does where they are not installed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

VARIANTS = ("no-access-log", "one-route", "no-thread", "uvloop")


def build(store: str, home: Path, variants: set[str]) -> Any:
    import mltrail.server.app as server_app
    from mltrail.remote._api import API_PREFIX, calls
    from mltrail.server import create_app
    from mltrail.server.settings import Settings

    app = create_app(store, settings=Settings(home=home))
    app.state.projects.store("default")
    if "one-route" in variants:
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        handlers = {
            name: server_app._store_endpoint(call, app.state.settings)
            for name, call in calls().items()
        }

        async def dispatch(request: Request) -> Response:
            handler = handlers.get(request.path_params["method"])
            if handler is None:
                return Response(status_code=404)
            return await handler(request)

        route = Route(f"{API_PREFIX}/store/{{method}}", dispatch, methods=["POST"])
        app.router.routes.insert(0, route)
    if "no-thread" in variants:

        async def on_the_loop(fn: Any, *args: Any) -> Any:
            return fn(*args)

        server_app.run_in_threadpool = on_the_loop  # type: ignore[assignment]
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("store")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--variant", default="", help=f"comma-separated: {', '.join(VARIANTS)}")
    args = parser.parse_args()
    variants = {v for v in args.variant.split(",") if v}
    unknown = variants - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    fast = "uvloop" in variants
    uvicorn.run(
        build(args.store, args.home, variants),
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        server_header=False,
        access_log="no-access-log" not in variants,
        http="httptools" if fast else "h11",
        loop="uvloop" if fast else "asyncio",
    )


if __name__ == "__main__":
    main()
