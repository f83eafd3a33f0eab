"""``make demo`` runs: examples/demo.py records, asks, then syncs two sites through a server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mltrail

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_runs(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Where did churn-model-2 come from?" in done.stdout
    assert (
        "Site A, after the pull: where did churn-model-3 (made at site B) come from?" in done.stdout
    )
    assert "raw.csv                          ──▶ ingest-3" in done.stdout
    assert "the server holds 16 artifacts, 15 executions, 4 contexts" in done.stdout
    assert "['churn-run-1', 'churn-run-2', 'churn-run-3']" in done.stdout
    assert "pushed 1 object(s) to shared-storage" in done.stdout
    assert "pushing again sends 0 objects (1 already there)" in done.stdout
    assert "verified against its digest, same bytes: True" in done.stdout
    fetched = tmp_path / "site-a-work" / "models" / "model.bin"
    assert fetched.read_bytes() == (tmp_path / "site-b-work" / "models" / "model.bin").read_bytes()
    with mltrail.connect(path) as store:
        models = store.get_artifacts_by_type("Model")
        assert [a.name for a in models] == ["churn-model-1", "churn-model-2", "churn-model-3"]
