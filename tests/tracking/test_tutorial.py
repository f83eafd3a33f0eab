"""docs/tracking-tutorial.md runs as written, in an empty directory, and says what it shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import mltrail
from mltrail.query.fingerprint import CachedExecution

ROOT = Path(__file__).resolve().parents[2]


def test_tutorial_runs(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "docs" / "tracking-tutorial.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    namespace: dict[str, object] = {}
    for number, block in enumerate(blocks):
        exec(compile(block, f"tracking-tutorial.md block {number}", "exec"), namespace)
    output = capsys.readouterr().out
    assert "['toy/prepare', 'toy/train']" in output
    assert "['data/raw.csv', 'data/train.csv', 'model.json']" in output
    assert "parameter lr changed: 0.1 → 0.2" in output
    assert output.rstrip().endswith("CACHED")
    assert (project / ".mltrail" / "mltrail.db").is_file()  # the zero set-up default
    assert isinstance(namespace["hit"], CachedExecution)
    assert isinstance(namespace["model"], mltrail.Artifact)


def test_importing_mltrail_writes_nothing(tmp_path: Path) -> None:
    code = "import mltrail, mltrail.tracking, mltrail.compat.cmf"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []
