"""``mltrail serve``: run the server with uvicorn, safe by default.

It listens on 127.0.0.1 unless told otherwise, and refuses another address unless the server
checks tokens (``auth=True``) or ``insecure=True`` says that an open server is meant. With several
workers each process builds its own application from the settings passed in the environment.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

from mltrail.errors import FailedPreconditionError, InvalidArgumentError
from mltrail.server.settings import DEFAULT_MAX_BODY_BYTES, Settings

#: The environment variable that carries the settings to worker processes.
SETTINGS_VARIABLE = "MLTRAIL_SERVER_SETTINGS"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    store: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    workers: int = 1,
    home: str | os.PathLike[str] | None = None,
    max_body_bytes: int | None = None,
    auth: bool = False,
    registry: str | None = None,
    cors_origins: tuple[str, ...] = (),
    insecure: bool = False,
) -> None:
    """Run the server until interrupted."""
    import uvicorn

    if not is_loopback(host) and not auth and not insecure:
        raise FailedPreconditionError(
            f"refusing to serve {host} without authentication: anyone who can reach it could "
            "read and change every project; add --auth (and give out tokens made with mltrail "
            "token create), or pass --insecure if an open server is really meant"
        )
    if workers < 1:
        raise InvalidArgumentError(f"workers must be at least 1, got {workers}")
    settings = {
        "store": store,
        "home": str(Path(home).absolute()) if home is not None else None,
        "max_body_bytes": max_body_bytes or DEFAULT_MAX_BODY_BYTES,
        "auth": auth,
        "registry": registry,
        "cors_origins": list(cors_origins),
    }
    os.environ[SETTINGS_VARIABLE] = json.dumps(settings)
    # Fails now, in the foreground, when the store or the token registry cannot be opened.
    checked = app_from_environment()
    checked.state.projects.close()
    if checked.state.registry is not None:
        checked.state.registry.close()
    options: dict[str, Any] = {"factory": True, "log_level": "info", "server_header": False}
    if workers == 1:
        uvicorn.run(APP, host=host, port=port, **options)
    else:
        _run_workers(uvicorn.Config(APP, host=host, port=port, workers=workers, **options))


#: The application factory each server process calls.
APP = "mltrail.server.serve:app_from_environment"


def _run_workers(config: Any) -> None:
    """Several worker processes on one listening socket (what ``uvicorn.run`` does), the socket
    marked as TCP: uvicorn binds it with protocol 0, and asyncio then leaves Nagle's algorithm on
    for the connections the workers accept, so every answer waited ~40 ms for the client's
    delayed ACK between its header and its body."""
    import socket

    from uvicorn.supervisors import Multiprocess

    bound = config.bind_socket()
    sock = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    sock.set_inheritable(True)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def app_from_environment() -> Any:
    """The application described by ``$MLTRAIL_SERVER_SETTINGS`` (one per worker process)."""
    from mltrail.server.app import create_app

    given = json.loads(os.environ.get(SETTINGS_VARIABLE) or "{}")
    home = given.get("home")
    settings = Settings(
        home=Path(home) if home else None,
        max_body_bytes=int(given.get("max_body_bytes") or DEFAULT_MAX_BODY_BYTES),
        auth=bool(given.get("auth")),
        registry=given.get("registry"),
        cors_origins=tuple(given.get("cors_origins") or ()),
    )
    app = create_app(given.get("store"), settings=settings)
    app.state.projects.store("default")  # opens (and migrates) the default store now
    return app
