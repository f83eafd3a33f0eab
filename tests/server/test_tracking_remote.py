"""The Tracker works unchanged against a server: the tracking tutorial, run with its store set
to a server URL, gives the same answers, and the server's store holds the pipeline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mltrail
from _remote import RemoteServer

ROOT = Path(__file__).resolve().parents[2]


def test_the_tutorial_runs_against_a_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "server"
    server = RemoteServer(f"sqlite:///{home / 'store.db'}", home)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.setenv("MLTRAIL_STORE", server.url)
    try:
        text = (ROOT / "docs" / "tracking-tutorial.md").read_text(encoding="utf-8")
        namespace: dict[str, object] = {}
        for number, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.S)):
            exec(compile(block, f"tracking-tutorial.md block {number}", "exec"), namespace)
        output = capsys.readouterr().out
        assert "['toy/prepare', 'toy/train']" in output
        assert "['data/raw.csv', 'data/train.csv', 'model.json']" in output
        assert "parameter lr changed: 0.1 → 0.2" in output
        assert output.rstrip().endswith("CACHED")
        assert not (project / ".mltrail" / "mltrail.db").exists()  # nothing stored locally
        with mltrail.connect(home / "store.db") as stored:
            stages = {c.name for c in stored.get_contexts()}
            assert {"toy/prepare", "toy/train"} <= stages
            assert stored.count_executions() >= 2
    finally:
        server.close()
