"""Helpers of the web UI's tests (importable by name: ``from ui_helpers import ...``)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx

from _remote import RemoteServer
from mltrail.server.tokens import Registry

CHROMIUM = os.environ.get("MLTRAIL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def copy_of(store: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "store.db"
    shutil.copyfile(store, target)
    return target


@dataclass
class Authed:
    server: RemoteServer
    registry: Registry
    client: httpx.Client

    def token(self, project: str = "default", role: str = "reader") -> str:
        return self.registry.create(project, role, "ui test")[0]
