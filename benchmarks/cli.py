"""Start-up of the ``mltrail`` command line: whole processes, as a shell runs them.

Each command runs in a fresh interpreter started the way the installed ``mltrail`` script starts
(``from mltrail.cli import main; main()``), from cached bytecode (a temporary
``PYTHONPYCACHEPREFIX``, filled by a warm-up round that is not counted), in a project whose store
holds a small logged pipeline. Rounds alternate between the commands so that a change of load
hits them all alike; the table shows medians of wall and CPU time (the child's user + system
time) and, as references, an interpreter that does nothing, one that imports click and one
that imports SQLAlchemy.

    python benchmarks/cli.py                 # 15 rounds, about a minute
    python benchmarks/cli.py --rounds 30 --only help --only ls
    python benchmarks/cli.py --imports       # also: what ``mltrail ls`` spends importing
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = "import sys; from mltrail.cli import main; sys.argv[0] = 'mltrail'; sys.exit(main())"

#: name -> the process's arguments after the interpreter.
COMMANDS: dict[str, list[str]] = {
    "python": ["-c", "pass"],
    "click": ["-c", "import click"],
    "sqlalchemy": ["-c", "import sqlalchemy"],
    "help": ["-c", SCRIPT, "--help"],
    "ls": ["-c", SCRIPT, "ls", "artifacts", "--limit", "1"],
    "show": ["-c", SCRIPT, "show", "1"],
    "status": ["-c", SCRIPT, "status", "--offline"],
    "lineage": ["-c", SCRIPT, "lineage", "a:5"],
}
REFERENCES = ("python", "click", "sqlalchemy")

SEED = """
import json, pathlib, mltrail
pathlib.Path("data").mkdir()
pathlib.Path("data/raw.csv").write_text("x,y\\n" * 100)
with mltrail.Tracker(pipeline="bench") as tracker:
    with tracker.stage("prepare").execution(parameters={"k": 1}) as run:
        run.log_dataset("data/raw.csv")
        pathlib.Path("data/train.csv").write_text("x,y,z\\n" * 100)
        run.log_dataset("data/train.csv", "output")
    for lr in (0.1, 0.2):
        with tracker.stage("train").execution(parameters={"lr": lr}) as run:
            run.log_dataset("data/train.csv")
            pathlib.Path(f"model-{lr}.json").write_text(json.dumps([lr]))
            run.log_model(f"model-{lr}.json")
            run.log_metrics({"accuracy": lr})
"""


def run_once(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall ms, CPU ms and the exit code of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, check=False
    )
    wall = 1000 * (time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = 1000 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def imports(env: dict[str, str], cwd: Path) -> None:
    """The heaviest imports of ``mltrail ls artifacts --limit 1`` (``-X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *COMMANDS["ls"][:2], *COMMANDS["ls"][2:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[0].isdigit():
            rows.append((int(parts[1]), parts[2]))
    top = {name.strip(): us for us, name in rows if not name.startswith("  ")}
    print("\ntop-level imports of `mltrail ls artifacts --limit 1` (ms, cumulative):")
    for name, us in sorted(top.items(), key=lambda item: -item[1])[:8]:
        print(f"  {name:<28} {us / 1000:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds (default 15)")
    parser.add_argument(
        "--only", choices=sorted(COMMANDS), action="append", help="measure only these"
    )
    parser.add_argument("--imports", action="store_true", help="also list the heavy imports")
    args = parser.parse_args()
    names = [*REFERENCES, *[n for n in (args.only or COMMANDS) if n not in REFERENCES]]
    with tempfile.TemporaryDirectory(prefix="mltrail-cli-") as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        (project / ".git").mkdir()
        env = {
            k: v
            for k, v in os.environ.items()
            if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("MLTRAIL_")
        }
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        env["COLUMNS"] = "100"
        subprocess.run([sys.executable, "-c", SEED], env=env, cwd=project, check=True)
        for name in names:  # warm-up: writes the bytecode caches, checks each command works
            code = run_once(COMMANDS[name], env, project)[2]
            if code != 0:
                raise SystemExit(f"`{' '.join(COMMANDS[name][2:])}` failed (exit {code})")
        times: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        for _ in range(args.rounds):
            for name in names:
                wall, cpu, _ = run_once(COMMANDS[name], env, project)
                times[name].append((wall, cpu))
        print("| process | wall (ms) | CPU (ms) |")
        print("|---|---:|---:|")
        for name in names:
            wall = statistics.median(t[0] for t in times[name])
            cpu = statistics.median(t[1] for t in times[name])
            label = name if name in REFERENCES else f"`mltrail {' '.join(COMMANDS[name][2:])}`"
            print(f"| {label} | {wall:.0f} | {cpu:.0f} |")
        if args.imports:
            imports(env, project)


if __name__ == "__main__":
    main()
