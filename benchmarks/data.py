"""Artifact bytes: pushes to a local and an S3 remote, re-pushes, hashing, and memory.

    python benchmarks/data.py                        # starts its own SeaweedFS for S3
    python benchmarks/data.py --quick                # small sizes: a smoke run (seconds)
    python benchmarks/data.py --s3-url s3://bucket/prefix --s3-endpoint http://127.0.0.1:8333
    python benchmarks/data.py --only push,repush     # some parts only

Parts (``--only``, comma-separated):

* ``push``: ``--files`` files of ``--total`` bytes in all (1,000 files, 1 GB) in a cache, pushed
  to an empty local directory and to an empty S3 prefix by ``mltrail.data.transfer``, and the
  same files copied by plain fsspec (one ``fs.put`` of the list of files to the same object
  paths) in the same run; the rounds alternate which goes first, each into a new place. Median
  MB/s of each and mltrail's share of fsspec's speed (goal: at least 80%). Every round's remote
  is listed afterwards: it must hold every object with its size.
* ``repush``: pushing the same objects again when nothing changed (goal: at most 1 s for 1,000),
  through ``transfer`` and, when a metadata store is given, through ``mltrail.data.push`` of
  1,000 file artifacts (reading the artifacts, checking the cache, asking the remote).
* ``hash``: verification hashing on one core, sha256 and md5 (goal: sha256 at least 1 GB/s), on
  a file in the page cache, as mltrail streams it and as ``hashlib.file_digest`` does; and a
  verified pull (local remote to a cache: copy and hash).
* ``big``: a ``--big`` file (5 GB) added to a cache, pushed and pulled (local remote and S3),
  each step in a child process whose peak RSS is read from ``/proc/self/status`` (VmHWM; goal:
  at most 150 MB). The pulled bytes are hashed again and compared.

The S3 remote is a SeaweedFS server started here (tests/_storage_servers.py) unless ``--s3-url``
names another (with ``--s3-endpoint``; credentials from the AWS environment). The machine may be
shared: the load average is printed with each part.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).parent))

import fsspec
from remote import load

from _storage_servers import SeaweedServer
from mltrail.data import Cache, Oid, open_remote, transfer

MB = 1_000_000
CHUNK = 1 << 20
PARTS = ("push", "repush", "hash", "big")


# ------------------------------------------------------------------------------------ the data


def write_random(path: Path, size: int, algorithm: str = "sha256") -> Oid:
    """A file of ``size`` random bytes, hashed as it is written; returns its id."""
    hasher = hashlib.new(algorithm)
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(CHUNK * 8, left))
            hasher.update(block)
            out.write(block)
            left -= len(block)
    return Oid(algorithm, hasher.hexdigest())


def make_cache(directory: Path, files: int, total: int) -> tuple[Cache, dict[Oid, int]]:
    """A cache holding ``files`` random objects of ``total`` bytes in all; id → size."""
    work = directory / "work"
    work.mkdir(parents=True)
    cache = Cache(directory / "cache")
    sizes: dict[Oid, int] = {}
    each = total // files
    start = time.perf_counter()
    for i in range(files):
        path = work / f"{i:05d}.bin"
        oid = write_random(path, each)
        cache.add(path, oid)
        path.unlink()
        sizes[oid] = each
    took = time.perf_counter() - start
    print(f"  made {files:,} objects of {each:,} bytes in a cache in {took:.1f} s")
    return cache, sizes


# --------------------------------------------------------------------------------- the remotes


class Remotes:
    """Where pushes go: new local directories and new S3 prefixes, one per round."""

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        self.tmp = tmp
        self.count = 0
        self.server: SeaweedServer | None = None
        if args.s3_url:
            self.s3_base = args.s3_url.rstrip("/")
            self.s3_options: dict[str, Any] = {}
            if args.s3_endpoint:
                self.s3_options["endpoint_url"] = args.s3_endpoint
        else:
            self.server = SeaweedServer(tmp / "seaweedfs", start=False)
            if self.server.unavailable:
                raise SystemExit(self.server.unavailable)
            self.server.start()
            self.s3_base = self.server.url()
            self.s3_options = self.server.options

    def new(self, kind: str) -> tuple[str, dict[str, Any]]:
        self.count += 1
        if kind == "local":
            path = self.tmp / "remotes" / f"r{self.count}"
            path.mkdir(parents=True)
            return str(path), {}
        return f"{self.s3_base}/r{self.count}-{os.getpid()}", dict(self.s3_options)

    def drop(self, url: str, options: dict[str, Any]) -> None:
        fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True, **options)
        if fs.exists(root):
            fs.rm(root, recursive=True)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def check_remote(url: str, options: dict[str, Any], sizes: dict[Oid, int]) -> None:
    """The remote must hold every object, at its path, with its size (one listing)."""
    fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True, **options)
    found = {
        path[len(root.rstrip("/")) + 1 :]: info["size"]
        for path, info in fs.find(root, detail=True).items()
    }
    expected = {oid.path: size for oid, size in sizes.items()}
    if found != expected:
        wrong = set(found.items()) ^ set(expected.items())
        raise SystemExit(f"the remote {url} does not hold what was pushed: {sorted(wrong)[:5]}")


def fsspec_copy(cache: Cache, oids: list[Oid], url: str, options: dict[str, Any]) -> None:
    """Plain fsspec: one ``put`` of the cache's files to the same object paths."""
    fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True, **options)
    root = root.rstrip("/")
    targets = [f"{root}/{oid.path}" for oid in oids]
    if fs.protocol in ("file", "local") or "file" in fs.protocol:
        for parent in sorted({t.rsplit("/", 1)[0] for t in targets}):
            fs.makedirs(parent, exist_ok=True)
    fs.put([str(cache.local_path(oid)) for oid in oids], targets)


# ---------------------------------------------------------------------------------- the parts


def median_rate(seconds: list[float], nbytes: int) -> float:
    return nbytes / statistics.median(seconds) / MB


def push_part(args: argparse.Namespace, tmp: Path, remotes: Remotes) -> None:
    print(f"\n== push {args.files:,} files, {args.total / MB:,.0f} MB ({load()}) ==")
    cache, sizes = make_cache(tmp / "push", args.files, args.total)
    oids = sorted(sizes)
    nbytes = sum(sizes.values())
    rows = []
    for kind in ("local", "s3"):
        times: dict[str, list[float]] = {"mltrail": [], "fsspec": []}
        for round_ in range(args.rounds):
            order = ["mltrail", "fsspec"] if round_ % 2 == 0 else ["fsspec", "mltrail"]
            for method in order:
                url, options = remotes.new(kind)
                os.sync()  # the last round's writes reach the disk before this one is timed
                start = time.perf_counter()
                if method == "mltrail":
                    report = transfer(cache, open_remote(url, options), oids, jobs=args.jobs)
                    if report.transferred != len(oids) or report.failed:
                        raise SystemExit(f"transfer to {url}: {report}")
                else:
                    fsspec_copy(cache, oids, url, options)
                times[method].append(time.perf_counter() - start)
                check_remote(url, options, sizes)
                remotes.drop(url, options)
        mine, plain = median_rate(times["mltrail"], nbytes), median_rate(times["fsspec"], nbytes)
        rows.append((kind, mine, plain, times))
    print(f"  {'remote':<8} {'mltrail MB/s':>13} {'fsspec MB/s':>12} {'share':>7}  (goal ≥ 80%)")
    for kind, mine, plain, times in rows:
        print(f"  {kind:<8} {mine:>13,.0f} {plain:>12,.0f} {mine / plain:>7.0%}")
        for method, values in times.items():
            print(f"    {method} rounds: {', '.join(f'{v:.2f} s' for v in values)}")
    shutil.rmtree(tmp / "push")


def store_with_artifacts(tmp: Path, count: int) -> tuple[Any, Path, list[Path]]:
    """A project of ``count`` small files logged as file artifacts in a SQLite store."""
    import mltrail
    from mltrail.tracking._artifacts import file_artifact
    from mltrail.tracking._schema import ARTIFACT_TYPES, DATASET
    from mltrail.tracking.hashing import Hasher

    project = tmp / "project"
    (project / ".mltrail").mkdir(parents=True)
    store = mltrail.connect(f"sqlite:///{project / '.mltrail' / 'store.db'}")
    hasher = Hasher("sha256")
    paths = []
    artifacts = []
    for i in range(count):
        path = project / "data" / f"{i:05d}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(1000))
        paths.append(path)
        relative = path.relative_to(project).as_posix()
        artifacts.append(file_artifact(DATASET, hasher.digest(path), relative))
    store.put_artifact_type(ARTIFACT_TYPES[DATASET], can_add_fields=True, can_omit_fields=True)
    store.put_artifacts(artifacts)
    return store, project, paths


def repush_part(args: argparse.Namespace, tmp: Path, remotes: Remotes) -> None:
    count = args.artifacts
    print(f"\n== push again with nothing changed, {count:,} objects ({load()}) ==")
    cache, sizes = make_cache(tmp / "repush", count, count * 1000)
    oids = sorted(sizes)
    import mltrail.data as data

    for kind in ("local", "s3"):
        url, options = remotes.new(kind)
        remote = open_remote(url, options)
        transfer(cache, remote, oids, jobs=args.jobs)
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            report = transfer(cache, open_remote(url, options), oids, jobs=args.jobs)
            times.append(time.perf_counter() - start)
            if report.transferred or report.skipped != count:
                raise SystemExit(f"nothing should have been sent to {url}: {report}")
        print(
            f"  transfer, {kind:<5}: {statistics.median(times) * 1000:7.0f} ms "
            f"(rounds {', '.join(f'{t * 1000:.0f}' for t in times)} ms; goal ≤ 1000 ms)"
        )
        remotes.drop(url, options)
    push = getattr(data, "push", None)
    if push is None:
        print("  (mltrail.data.push is not there: the store-level re-push is not measured)")
        return
    store, project, _ = store_with_artifacts(tmp / "repush-store", count)
    try:
        for kind in ("local", "s3"):
            url, options = remotes.new(kind)
            cache = Cache(project / ".mltrail" / "cache")
            first = push(store, open_remote(url, options), cache=cache, root=project)
            if first.transferred != count:
                raise SystemExit(f"the first push sent {first}")
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                report = push(store, open_remote(url, options), cache=cache, root=project)
                times.append(time.perf_counter() - start)
                if report.transferred:
                    raise SystemExit(f"nothing should have been sent to {url}: {report}")
            print(
                f"  push of {count:,} artifacts, {kind:<5}: "
                f"{statistics.median(times) * 1000:7.0f} ms "
                f"(rounds {', '.join(f'{t * 1000:.0f}' for t in times)} ms; goal ≤ 1000 ms)"
            )
            remotes.drop(url, options)
    finally:
        store.close()


def mltrail_hash(path: Path, algorithm: str) -> str:
    """The digest as mltrail's streaming hash computes it (the verification of a transfer)."""
    from mltrail.data import _files

    hasher, _ = _files.hash_file(path, algorithm)
    return str(hasher.hexdigest())


def hashlib_hash(path: Path, algorithm: str) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, algorithm).hexdigest()


def hash_part(args: argparse.Namespace, tmp: Path, remotes: Remotes) -> None:
    size = args.hash_size
    print(f"\n== verification hashing of {size / MB:,.0f} MB on one core ({load()}) ==")
    (tmp / "hash").mkdir()
    path = tmp / "hash" / "one.bin"
    oids = {"sha256": write_random(path, size, "sha256")}
    oids["md5"] = Oid("md5", hashlib_hash(path, "md5"))
    hashlib_hash(path, "sha256")  # the file is in the page cache from here on
    print(f"  {'algorithm':<10} {'mltrail GB/s':>13} {'hashlib GB/s':>13}   (goal sha256 ≥ 1 GB/s)")
    for algorithm, oid in oids.items():
        rates = {}
        for name, function in (("mltrail", mltrail_hash), ("hashlib", hashlib_hash)):
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                answer = function(path, algorithm)
                times.append(time.perf_counter() - start)
                if answer != oid.hexdigest:
                    raise SystemExit(f"{name} {algorithm} gave {answer}, expected {oid.hexdigest}")
            rates[name] = size / min(times) / 1e9
        print(f"  {algorithm:<10} {rates['mltrail']:>13.2f} {rates['hashlib']:>13.2f}")
    cache = Cache(tmp / "hash" / "cache")
    cache.add(path, oids["sha256"])
    url, options = remotes.new("local")
    transfer(cache, open_remote(url, options), [oids["sha256"]])
    times = []
    for i in range(args.rounds):
        target = Cache(tmp / "hash" / f"pulled-{i}")
        start = time.perf_counter()
        transfer(open_remote(url, options), target, [oids["sha256"]])
        times.append(time.perf_counter() - start)
        shutil.rmtree(target.root, ignore_errors=True)
    print(f"  verified pull, local remote → cache: {size / min(times) / 1e9:.2f} GB/s")
    shutil.rmtree(tmp / "hash")
    remotes.drop(url, options)


# ----------------------------------------------------------------------- big: child processes


def child(step: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One step of the big part, in this (child) process; returns its time and peak RSS."""
    oid = Oid.parse(spec["oid"])
    start = time.perf_counter()
    if step == "add":
        Cache(Path(spec["cache"])).add(Path(spec["source"]), oid)
    elif step == "push":
        report = transfer(
            Cache(Path(spec["cache"])), open_remote(spec["url"], spec["options"]), [oid]
        )
        assert report.transferred == 1, report
    elif step == "pull":
        report = transfer(
            open_remote(spec["url"], spec["options"]), Cache(Path(spec["into"])), [oid]
        )
        assert report.transferred == 1, report
    took = time.perf_counter() - start
    return {"seconds": took, "peak_mb": peak_mb()}


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def in_child(step: str, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", step, json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {step} step failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def big_part(args: argparse.Namespace, tmp: Path, remotes: Remotes) -> None:
    size = args.big
    print(
        f"\n== one file of {size / 1e9:,.2f} GB: add, push, pull in child processes ({load()}) =="
    )
    work = tmp / "big"
    work.mkdir()
    source = work / "big.bin"
    start = time.perf_counter()
    oid = write_random(source, size)
    print(f"  written and hashed in {time.perf_counter() - start:.1f} s")
    spec: dict[str, Any] = {
        "oid": oid.external_id,
        "source": str(source),
        "cache": str(work / "cache"),
    }
    idle = in_child("none", spec)
    rows = [("add to the cache", in_child("add", spec))]
    source.unlink()
    for kind in ("local", "s3"):
        url, options = remotes.new(kind)
        spec |= {"url": url, "options": options, "into": str(work / f"pulled-{kind}")}
        rows.append((f"push to {kind}", in_child("push", spec)))
        rows.append((f"pull from {kind}", in_child("pull", spec)))
        pulled = Cache(Path(spec["into"])).local_path(oid)
        if hashlib_hash(pulled, "sha256") != oid.hexdigest:
            raise SystemExit(f"the bytes pulled from {kind} differ")
        shutil.rmtree(spec["into"])
        remotes.drop(url, options)
    print(f"  {'step':<18} {'seconds':>8} {'MB/s':>7} {'peak RSS MB':>12}   (goal ≤ 150 MB)")
    print(f"  {'(an idle child)':<18} {'':>8} {'':>7} {idle['peak_mb']:>12.0f}")
    for name, result in rows:
        rate = size / result["seconds"] / MB
        print(f"  {name:<18} {result['seconds']:>8.1f} {rate:>7,.0f} {result['peak_mb']:>12.0f}")
    shutil.rmtree(work)


# ---------------------------------------------------------------------------------------- main


@contextmanager
def scratch(directory: str | None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=directory, prefix="mltrail-bench-data-") as name:
        yield Path(name)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        step, spec = sys.argv[2], json.loads(sys.argv[3])
        print(json.dumps(child(step, spec) if step != "none" else {"peak_mb": peak_mb()}))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round: a smoke run")
    parser.add_argument("--only", help=f"comma-separated parts: {', '.join(PARTS)}")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--total", type=int, default=1000 * (1 << 20), help="bytes in all")
    parser.add_argument("--artifacts", type=int, default=1000, help="objects for repush")
    parser.add_argument("--hash-size", type=int, default=1 << 30)
    parser.add_argument("--big", type=int, default=5 * (1 << 30), help="the big file's bytes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--s3-url", help="an S3 prefix to push to (else a SeaweedFS is started)")
    parser.add_argument("--s3-endpoint", help="the S3 endpoint URL for --s3-url")
    parser.add_argument("--tmp", help="the directory for scratch files (default: the system's)")
    args = parser.parse_args()
    if args.quick:
        args.files, args.total, args.artifacts = 20, 20 * 65536, 50
        args.hash_size, args.big, args.rounds = 8 << 20, 24 << 20, 1
    parts = args.only.split(",") if args.only else list(PARTS)
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    runs: dict[str, Callable[[argparse.Namespace, Path, Remotes], None]] = {
        "push": push_part,
        "repush": repush_part,
        "hash": hash_part,
        "big": big_part,
    }
    with scratch(args.tmp) as tmp:
        remotes = Remotes(tmp, args)
        try:
            for part in PARTS:
                if part in parts:
                    runs[part](args, tmp, remotes)
        finally:
            remotes.close()
    print(f"\ncommand: python {' '.join(sys.argv)} (Python {sys.version.split()[0]}; {load()})")


if __name__ == "__main__":
    main()
