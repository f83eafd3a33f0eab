"""Run the whole example, as CMF's test_script.sh does: data, then the four stages, then a query.

    python run_pipeline.py [WORKDIR]

WORKDIR (default: the current directory) receives ``params.json``, the generated data under
``artifacts/``, the store file ``mlmd`` (the scripts' ``Cmf(filepath="mlmd")``, as in CMF) and
mltrail's cache under ``.mltrail/`` (unless it lies in a git work tree, whose root then holds
``.mltrail/``). Each stage runs as its own process, like the CMF scripts; run it twice to see the
second run reuse every artifact.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = [
    ["src/parse.py", "artifacts/data.xml.gz", "artifacts/parsed"],
    ["src/featurize.py", "artifacts/parsed", "artifacts/features"],
    ["src/train.py", "artifacts/features", "artifacts/model"],
    ["src/evaluate.py", "artifacts/model", "artifacts/features", "artifacts/test_results"],
]


def run(workdir: Path, *, query: bool = True) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    if workdir.resolve() != HERE:
        shutil.copy(HERE / "params.json", workdir / "params.json")
    sys.path.insert(0, str(HERE))
    from generate_data import generate

    generate(workdir)
    for stage in STAGES:
        script, *args = stage
        subprocess.run([sys.executable, str(HERE / script), *args], cwd=workdir, check=True)
    if query:
        subprocess.run([sys.executable, str(HERE / "src" / "query.py")], cwd=workdir, check=True)


if __name__ == "__main__":
    run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
