"""Start-up costs, on mltrail and (when installed) on Google's ML Metadata side by side.

Each measurement runs in a fresh interpreter, so that nothing is imported or cached already;
rounds alternate between the systems (mltrail, MLMD, mltrail, MLMD...) and the tables show
medians. Measured, per process:

* ``import``: ``import mltrail`` / ``import ml_metadata``, and the whole process
  (``python -c "import mltrail"``, interpreter start included);
* ``connect``: importing and opening a new in-memory store, and an existing up-to-date SQLite
  file;
* ``first filter``: the first filter query of a process, on an in-memory store holding a few
  artifacts (``get_artifacts(filter_query=...)``; MLMD: ``ListOptions(filter_query=...)``);
  both systems must return the same artifacts;
* peak resident memory (``VmHWM``; ``ru_maxrss`` where there is no ``/proc``) after the import
  and after connecting.

    python benchmarks/startup.py               # 15 rounds, about 30 s
    python benchmarks/startup.py --rounds 40 --only first_filter

Compiled bytecode is kept in a temporary ``PYTHONPYCACHEPREFIX`` for the children (written by a
warm-up round that is not counted), so that both systems start from cached bytecode even where
``PYTHONDONTWRITEBYTECODE`` is set, and nothing is written next to the sources.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

QUERY = "name LIKE 'a%' AND properties.rows.int_value > 2"

# Each child prints one JSON object: times in ms (wall and CPU), peak RSS in kB, the answer.
PRELUDE = """
import json, resource, sys, time
def mark():
    return time.perf_counter(), time.process_time()
def since(start):
    wall, cpu = mark()
    return {"wall": 1000 * (wall - start[0]), "cpu": 1000 * (cpu - start[1])}
def rss():
    # Peak resident set of this process in kB. VmHWM starts afresh at exec; ru_maxrss would
    # include the benchmark process that forked this one.
    try:
        with open("/proc/self/status") as status:
            for row in status:
                if row.startswith("VmHWM:"):
                    return int(row.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {"rss_start": rss()}
"""

MLTRAIL = {
    "import": """
t = mark()
import mltrail
out["import"] = since(t); out["rss_import"] = rss()
""",
    "connect_memory": """
t = mark()
import mltrail
store = mltrail.connect()
out["connect_memory"] = since(t); out["rss_connect"] = rss()
""",
    "connect_file": """
t = mark()
import mltrail
store = mltrail.connect(sys.argv[1])
out["connect_file"] = since(t); out["rss_connect"] = rss()
out["alembic_loaded"] = "alembic" in sys.modules
""",
    "first_filter": """
import mltrail as m
store = m.connect()
kind = store.put_artifact_type(m.ArtifactType(name="Data", properties={"rows": m.PropertyType.INT}))
store.put_artifacts([
    m.Artifact(type_id=kind, name=f"{c}{i}", uri=f"/d/{c}{i}", properties={"rows": i})
    for c in "ab" for i in range(5)
])
t = mark()
found = store.get_artifacts(filter_query=QUERY)
out["first_filter"] = since(t)
t = mark()
store.get_artifacts(filter_query=QUERY.replace("> 2", "> 1"))
out["second_filter"] = since(t)
out["answer"] = sorted(a.name for a in found)
""",
}

MLMD = {
    "import": """
t = mark()
import ml_metadata
out["import"] = since(t); out["rss_import"] = rss()
""",
    "connect_memory": """
t = mark()
import ml_metadata
from ml_metadata.proto import metadata_store_pb2 as pb
config = pb.ConnectionConfig()
config.fake_database.SetInParent()
store = ml_metadata.MetadataStore(config)
out["connect_memory"] = since(t); out["rss_connect"] = rss()
""",
    "connect_file": """
t = mark()
import ml_metadata
from ml_metadata.proto import metadata_store_pb2 as pb
config = pb.ConnectionConfig()
config.sqlite.filename_uri = sys.argv[1]
config.sqlite.connection_mode = 3
store = ml_metadata.MetadataStore(config)
out["connect_file"] = since(t); out["rss_connect"] = rss()
""",
    "first_filter": """
import ml_metadata
from ml_metadata.proto import metadata_store_pb2 as pb
config = pb.ConnectionConfig()
config.fake_database.SetInParent()
store = ml_metadata.MetadataStore(config)
kind = store.put_artifact_type(pb.ArtifactType(name="Data", properties={"rows": pb.INT}))
store.put_artifacts([
    pb.Artifact(type_id=kind, name=f"{c}{i}", uri=f"/d/{c}{i}",
                properties={"rows": pb.Value(int_value=i)})
    for c in "ab" for i in range(5)
])
t = mark()
found = store.get_artifacts(list_options=ml_metadata.ListOptions(filter_query=QUERY))
out["first_filter"] = since(t)
t = mark()
store.get_artifacts(
    list_options=ml_metadata.ListOptions(filter_query=QUERY.replace("> 2", "> 1")))
out["second_filter"] = since(t)
out["answer"] = sorted(a.name for a in found)
""",
}

SCENARIOS = ("import", "connect_memory", "connect_file", "first_filter")


def run_child(body: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    code = f"QUERY = {QUERY!r}\n{PRELUDE}\n{body}\nprint(json.dumps(out))"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    total = 1000 * (time.perf_counter() - start)
    if done.returncode != 0:
        raise SystemExit(f"a benchmark child failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["process"] = total
    return result


def prepare_files(folder: Path, env: dict[str, str], with_mlmd: bool) -> dict[str, str]:
    """Up-to-date store files for the ``connect_file`` scenario."""
    path = str(folder / "store.db")
    files = {"mltrail": path}
    subprocess.run(
        [sys.executable, "-c", "import mltrail, sys; mltrail.connect(sys.argv[1]).close()", path],
        env=env,
        check=True,
    )
    if with_mlmd:
        files["MLMD"] = str(folder / "store.mlmd")
        run_child(MLMD["connect_file"], env, files["MLMD"])
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds per scenario (default 15)")
    parser.add_argument(
        "--only", choices=SCENARIOS, action="append", help="run only these scenarios (repeatable)"
    )
    args = parser.parse_args()
    scenarios = tuple(args.only or SCENARIOS)
    # Looked up, not imported: this process stays small, as the children start from a fork of it.
    with_mlmd = importlib.util.find_spec("ml_metadata") is not None
    if not with_mlmd:
        print("ml_metadata is not installed: measuring mltrail only")
    systems = {"mltrail": MLTRAIL, **({"MLMD": MLMD} if with_mlmd else {})}

    with tempfile.TemporaryDirectory(prefix="mltrail-startup-") as tmp:
        folder = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
        files = prepare_files(folder, env, with_mlmd)
        results: dict[str, dict[str, list[dict[str, Any]]]] = {s: {} for s in systems}
        for scenario in scenarios:
            for name, bodies in systems.items():  # warm-up: writes the bytecode caches
                run_child(bodies[scenario], env, files.get(name, ""))
            for _ in range(args.rounds):
                for name, bodies in systems.items():
                    got = run_child(bodies[scenario], env, files.get(name, ""))
                    results[name].setdefault(scenario, []).append(got)
        report(results, with_mlmd)


def median(runs: list[dict[str, Any]], key: str, part: str | None = None) -> float:
    return statistics.median(r[key][part] if part else r[key] for r in runs)


def report(results: dict[str, dict[str, list[dict[str, Any]]]], with_mlmd: bool) -> None:
    mine = results["mltrail"]
    theirs = results.get("MLMD", {})
    if "first_filter" in mine:
        expected = mine["first_filter"][0]["answer"]
        runs = [*mine["first_filter"], *theirs.get("first_filter", [])]
        if any(r["answer"] != expected for r in runs):
            raise SystemExit("the systems returned different artifacts for the filter query")
        print(f"filter: {QUERY!r} -> {expected} (the same answer from every run)")
    if any(r["alembic_loaded"] for r in mine.get("connect_file", [])):
        print("note: opening an up-to-date store imported Alembic")

    rows: list[tuple[str, str, str]] = [
        ("import (ms, wall)", "import", "wall"),
        ("import (ms, CPU)", "import", "cpu"),
        ("whole process `python -c 'import ...'` (ms)", "import", ""),
        ("import + open a new in-memory store (ms, wall)", "connect_memory", "wall"),
        ("import + open a new in-memory store (ms, CPU)", "connect_memory", "cpu"),
        ("import + open an up-to-date file (ms, wall)", "connect_file", "wall"),
        ("import + open an up-to-date file (ms, CPU)", "connect_file", "cpu"),
        ("first filter query in a process (ms, wall)", "first_filter", "wall"),
        ("first filter query in a process (ms, CPU)", "first_filter", "cpu"),
        ("second filter query (ms, wall)", "first_filter", "second"),
    ]
    print()
    print("| measure | mltrail | MLMD 1.17 | ratio |" if with_mlmd else "| measure | mltrail |")
    print("|---|---:|---:|---:|" if with_mlmd else "|---|---:|")

    def value(runs: dict[str, list[dict[str, Any]]], scenario: str, part: str) -> float:
        if part == "":
            return median(runs[scenario], "process")
        if part == "second":
            return median(runs[scenario], "second_filter", "wall")
        return median(runs[scenario], scenario, part)

    def line(label: str, a: float, b: float | None, digits: int = 1) -> None:
        if b is None:
            print(f"| {label} | {a:.{digits}f} |")
        else:
            print(f"| {label} | {a:.{digits}f} | {b:.{digits}f} | {b / a:.1f}× |")

    for label, scenario, part in rows:
        if scenario in mine:
            b = value(theirs, scenario, part) if theirs else None
            line(label, value(mine, scenario, part), b)
    for label, scenario, key in (
        ("peak RSS after import (MB)", "import", "rss_import"),
        ("peak RSS after connecting in memory (MB)", "connect_memory", "rss_connect"),
        ("peak RSS after opening a file (MB)", "connect_file", "rss_connect"),
    ):
        if scenario in mine:
            a = median(mine[scenario], key) / 1024
            b = median(theirs[scenario], key) / 1024 if theirs else None
            line(label, a, b)
    base = median([r for runs in mine.values() for r in runs], "rss_start") / 1024
    print(f"\n(an interpreter alone: {base:.1f} MB; ratio: MLMD's / mltrail's, > 1 is better)")


if __name__ == "__main__":
    main()
