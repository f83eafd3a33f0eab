"""Tracking speed: logging files, starting executions, re-logging big files, hashing.

    python benchmarks/tracking.py               # SQLite file store (the default set-up)
    python benchmarks/tracking.py --store memory --big-gb 0.25
    python benchmarks/tracking.py --no-cache    # metadata only: no copy into the cache

Files are put into the cache as a Tracker does by default (the first log of new bytes copies them
there; re-logging finds them present). Everything happens in a temporary directory (a throwaway
git repository, so executions capture git; big files are sparse and removed afterwards). Targets
(DESIGN.md §8) are printed beside the measurements; CMF's figures are those measured in
research/cmf.md (§1.3, §9), not re-measured here.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import mltrail
from mltrail.tracking import Tracker, capture_environment, capture_git
from mltrail.tracking.hashing import Hasher

OLD_NS = 1_600_000_000 * 10**9  # files dated in the past may be memoized


def timings(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def git_repository(root: Path) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(root)}
    for args in (
        ["init", "-q"],
        [
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
    ):
        subprocess.run(["git", *args], cwd=root, env=env, check=True)


def sparse_file(path: Path, size: int) -> Path:
    with open(path, "wb") as stream:
        stream.truncate(size)
    os.utime(path, ns=(OLD_NS, OLD_NS))
    return path


def throughput(path: Path, algorithm: str) -> float:
    """GB/s of one hasher over ``path`` (memo off), best of 3."""
    size = path.stat().st_size
    best = min(timings(lambda: Hasher(algorithm).digest(path), 3))
    return size / best / 1e9


def in_memory(algorithm: str, size: int = 256 << 20) -> float:
    data = os.urandom(1 << 20) * (size >> 20)
    best = min(timings(lambda: hashlib.new(algorithm, data).digest(), 3))
    return size / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("file", "memory"), default="file")
    parser.add_argument("--repeat", type=int, default=50, help="calls per timed operation")
    parser.add_argument("--big-gb", type=float, default=1.0, help="size of the big file, GB")
    parser.add_argument(
        "--no-cache", action="store_true", help="log metadata only (Tracker(cache=False))"
    )
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="mltrail-bench-") as tmp:
        root = Path(tmp)
        git_repository(root)
        url = f"sqlite:///{root / '.mltrail' / 'bench.db'}" if args.store == "file" else None
        (root / ".mltrail").mkdir()

        store = mltrail.connect(url)
        with Tracker("bench", store=store, root=root, cache=not args.no_cache) as tracker:
            stage = tracker.stage("train")
            start = time.perf_counter()
            first = stage.execution(parameters={"lr": 0.1, "layers": [64, 32]})
            first_ms = (time.perf_counter() - start) * 1000

            def execution() -> None:
                stage.execution(parameters={"lr": 0.1, "layers": [64, 32]}).end()

            exec_ms = median_ms(timings(execution, args.repeat))
            # The parts, on their own: git per execution, the environment once per process.
            git_ms = median_ms(timings(lambda: capture_git(root), args.repeat))
            start = time.perf_counter()
            environment = capture_environment(refresh=True)
            env_ms = (time.perf_counter() - start) * 1000
            rows.append(
                (
                    "execution with git + environment (first in process)",
                    f"{first_ms:.1f} ms",
                    "< 20 ms",
                    "~1050 ms",
                )
            )
            rows.append(
                (
                    "execution with git + environment (steady)",
                    f"{exec_ms:.1f} ms",
                    "< 20 ms",
                    "~1050 ms",
                )
            )
            rows.append(
                ("  of which: git capture (read .git + git diff)", f"{git_ms:.1f} ms", "", "")
            )
            rows.append(
                (
                    f"  of which: environment ({len(environment.packages)} distributions, once)",
                    f"{env_ms:.1f} ms",
                    "",
                    "",
                )
            )

            # log_dataset of a new 100 kB file: new content each call (hashed, new artifact).
            # The files are written beforehand; only the call is timed.
            data_dir = root / "data"
            data_dir.mkdir()
            parts = []
            for i in range(args.repeat):
                parts.append(data_dir / f"part-{i}.bin")
                parts[-1].write_bytes(os.urandom(100_000))
            pending = iter(parts)
            new_ms = median_ms(timings(lambda: first.log_dataset(next(pending)), args.repeat))
            rows.append(
                ("log_dataset, new 100 kB file", f"{new_ms:.2f} ms", "< 2 ms", "~600-700 ms")
            )
            same = data_dir / "same.bin"
            same.write_bytes(os.urandom(100_000))
            os.utime(same, ns=(OLD_NS, OLD_NS))
            first.log_dataset(same)
            again_ms = median_ms(timings(lambda: first.log_dataset(same), args.repeat))
            rows.append(("log_dataset, same 100 kB file again", f"{again_ms:.2f} ms", "< 2 ms", ""))

            # Re-logging an unchanged big file: served by the (path, size, mtime, inode) memo.
            big = sparse_file(root / "big.bin", int(args.big_gb * 1e9))
            start = time.perf_counter()
            first.log_dataset(big)
            hashed_s = time.perf_counter() - start
            relog_ms = median_ms(timings(lambda: first.log_dataset(big), args.repeat))
            size = f"{args.big_gb:g} GB"
            rows.append(
                (
                    f"log_dataset, {size} file, first (hashed, cold)",
                    f"{hashed_s * 1000:.0f} ms",
                    "",
                    "",
                )
            )
            rows.append((f"re-log unchanged {size} file", f"{relog_ms:.2f} ms", "< 5 ms", ""))
            first.end()

        # Hashing throughput, one core: a file in the page cache and the bare hash in memory.
        cached = root / "cached.bin"
        with open(cached, "wb") as stream:
            for _ in range(256):
                stream.write(os.urandom(1 << 20))
        for algorithm in ("sha256", "md5"):
            on_file = throughput(cached, algorithm)
            sparse = throughput(big, algorithm)
            bare = in_memory(algorithm)
            target = "≥ 1 GB/s" if algorithm == "sha256" else ""
            rows.append(
                (f"hash {algorithm}, 256 MB file in page cache", f"{on_file:.2f} GB/s", target, "")
            )
            rows.append((f"hash {algorithm}, {size} sparse file", f"{sparse:.2f} GB/s", target, ""))
            rows.append(
                (f"hash {algorithm}, hashlib on bytes in memory", f"{bare:.2f} GB/s", "", "")
            )
        big.unlink()

    width = max(len(r[0]) for r in rows)
    print(f"\n== tracking on {'a SQLite file' if args.store == 'file' else 'SQLite in memory'} ==")
    print(f"{'':<{width}}  {'mltrail':>11}  {'target':>9}  {'CMF':>12}")
    for name, value, target, cmf in rows:
        print(f"{name:<{width}}  {value:>11}  {target:>9}  {cmf:>12}")
    cpu = "SHA-NI" if "sha_ni" in _cpu_flags() else "no SHA-NI"
    print(
        f"\ncommand: python benchmarks/tracking.py {' '.join(sys.argv[1:])}".rstrip()
        + f"  (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {cpu})"
    )


def _cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


if __name__ == "__main__":
    main()
