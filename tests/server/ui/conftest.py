"""Fixtures of the web UI's tests.

``seeded``: a store file holding the toy pipeline of ``tests/_cli.py`` (logged once per session,
copied per use). ``live``: ``mltrail serve`` on a copy of it, in a process of its own, one per
test module; ``client``: an HTTP client of it. ``auth_live``/``auth_client``: the same with
authentication on, and the server's token registry. ``browser``:
Debian's Chromium driven by Playwright (``executable_path``: no browser is downloaded), skipped
when it is not installed unless ``MLTRAIL_REQUIRE_BACKENDS`` is set. Screenshots go to
``$MLTRAIL_SCREENSHOTS`` when set (``docs/ui`` regenerates the pictures of docs/ui.md), else to
a temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_helpers import CHROMIUM, CHROMIUM_ARGS, Authed, copy_of

from _cli import seed
from _remote import RemoteServer
from _servers import unavailable
from mltrail.server.tokens import Registry


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy pipeline's store file (do not write to it: copy it, see :func:`copy_of`)."""
    root = tmp_path_factory.mktemp("ui-seed")
    (root / ".git").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.delenv("MLTRAIL_STORE", raising=False)
        seed(root)
    return root / ".mltrail" / "mltrail.db"


@pytest.fixture(scope="module")
def live(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteServer]:
    home = tmp_path_factory.mktemp("ui-live")
    store = copy_of(seeded, home)
    server = RemoteServer(f"sqlite:///{store}", home)
    yield server
    server.close()


@pytest.fixture
def client(live: RemoteServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as opened:
        yield opened


@pytest.fixture(scope="module")
def auth_live(
    seeded: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RemoteServer, Registry]]:
    home = tmp_path_factory.mktemp("ui-auth")
    store = copy_of(seeded, home)
    server = RemoteServer(f"sqlite:///{store}", home, args=("--auth",))
    registry = Registry(f"sqlite:///{home / 'server.db'}")
    yield server, registry
    registry.close()
    server.close()


@pytest.fixture
def auth_client(auth_live: tuple[RemoteServer, Registry]) -> Iterator[Authed]:
    server, registry = auth_live
    with httpx.Client(base_url=server.url, timeout=30) as opened:
        yield Authed(server, registry, opened)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Per module, not per session: while Playwright's sync API is open an asyncio loop runs in
    # this thread, and later tests of the same worker that call asyncio.run() would fail.
    if not Path(CHROMIUM).exists():
        unavailable(
            f"no Chromium at {CHROMIUM}",
            "apt-get install chromium, or set MLTRAIL_CHROMIUM to a Chromium executable",
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed", "pip install -e '.[dev]'")
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A new browser page; console errors and CSP violations are collected in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.errors = errors
    yield opened
    context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (``$MLTRAIL_SCREENSHOTS``, else a temporary directory)."""
    configured = os.environ.get("MLTRAIL_SCREENSHOTS", "").strip()
    folder = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
