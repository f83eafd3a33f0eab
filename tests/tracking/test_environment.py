"""The Python environment: in-process, cached per process, identified by its content."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from typing import Any

import pytest

from mltrail.tracking import Environment, capture_environment
from mltrail.tracking.hashing import digest_document


def test_captures_interpreter_platform_and_distributions() -> None:
    env = capture_environment()
    assert env.python_version == platform.python_version()
    assert env.implementation == platform.python_implementation()
    assert env.system == platform.system() and env.machine == platform.machine()
    assert env.packages["SQLAlchemy"] == importlib.metadata.version("sqlalchemy")
    assert env.packages["pytest"] == importlib.metadata.version("pytest")
    names = [n.lower().replace("_", "-") for n in env.packages]
    assert names == sorted(names)


def test_computed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    first = capture_environment()

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the environment must not be read again")

    monkeypatch.setattr(importlib.metadata, "distributions", fail)
    assert capture_environment() is first


def test_no_subprocess(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no subprocess (pip freeze...) may run")

    monkeypatch.setattr(subprocess, "run", fail)
    monkeypatch.setattr(subprocess, "Popen", fail)
    fresh = capture_environment(refresh=True)
    assert fresh.packages


def test_digest_is_content_only() -> None:
    env = Environment("CPython", "3.11.7", "Linux", "x86_64", {"a": "1"})
    same = Environment("CPython", "3.11.7", "Linux", "x86_64", {"a": "1"})
    other = Environment("CPython", "3.11.7", "Linux", "x86_64", {"a": "2"})
    assert env.digest == same.digest == digest_document(env.document()) != other.digest
    assert env.digest.startswith("sha256:")
    assert "executable" not in env.document() and "hostname" not in env.document()
