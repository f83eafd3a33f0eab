"""Helpers of the web UI's tests (importable by name: ``from ui_helpers import ...``)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx

from _remote import RemoteServer
from mltrail.server.tokens import Registry


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
