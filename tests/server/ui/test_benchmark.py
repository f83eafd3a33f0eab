"""benchmarks/ui.py runs at a tiny size (and through a live server), so that it cannot rot.

The benchmark checks each page itself (its rows, and each row on the rendered page) and exits
non-zero when one is wrong; the times are not asserted here (they go to docs/performance.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_ui_benchmark_runs_small(tmp_path: Path) -> None:
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    command = [sys.executable, str(ROOT / "benchmarks" / "ui.py"), "--count", "1200"]
    command += ["--rounds", "2", "--live", "--tmp", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("page "))
    assert header.split() == ["page", "store", "render", "total", "bytes", "http"]
    pages = ("first page", "deep page", "filtered:", "one type:", "one rare type", "create-time")
    for name in (*pages, "artifact page", "context page"):
        (row,) = [line for line in lines if line.startswith(name)]
        figures = row.split()[-5:]
        assert all(float(f.replace(",", "")) > 0 for f in figures), row
    assert "store: 1,200 artifacts" in done.stdout
    assert list(tmp_path.iterdir()) == []  # its scratch directory is gone
