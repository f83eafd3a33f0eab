"""benchmarks/ui_graph.py runs: its small graph (``--quick``), its two main variants.

The benchmark checks the page itself (no console error, the graph drawn); its figures are not
asserted here (speed goes to the benchmark's own run, docs/performance.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ui_helpers import CHROMIUM

from _servers import unavailable

ROOT = Path(__file__).resolve().parents[3]


def test_the_ui_graph_benchmark_runs_quick() -> None:
    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM}", "apt-get install chromium")
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ui_graph.py"), "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "store: 45 artifacts + 30 executions = 75 nodes" in out, out
    assert "JSON model of 75 nodes and 86 edges" in out, out
    every = re.search(r"^every node +75n/86e +\d+ +(\d+) \(", out, re.M)
    folded = re.search(r"^repeated runs collapsed +(\d+)n/\d+e", out, re.M)
    assert every and folded and int(folded.group(1)) < 75, out
    assert re.search(r"every node laid out in \d+ ms \(median\)", out), out
