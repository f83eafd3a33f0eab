"""Sync: pushing a site's store to a local server, first push, deltas, and memory.

    python benchmarks/sync.py                                # the server on a SQLite file
    python benchmarks/sync.py --url postgresql://postgres@127.0.0.1/mltrail_bench_sync
    python benchmarks/sync.py --only first --executions 10000
    python benchmarks/sync.py --only delta --big 100000

A site is a SQLite file that logs pipeline steps (``benchmarks/pipeline.py``'s step: one
``put_execution`` with an input and an output artifact, 2 events, in a run context; runs of 5
steps). The server is ``python -m mltrail serve STORE`` on a free loopback port, on a SQLite file
or on the database ``--url`` names (created and dropped). Parts:

* ``first``: the first push of ``--executions`` executions to an empty server: executions per
  second end to end (reading the site's feed, HTTP, applying on the server), the client's and the
  server's peak RSS.
* ``delta``: a site of ``--big`` executions pushed to the server, then 10 new executions pushed:
  the delta's time, records and bytes, and the bytes of the same 10 executions pushed by a new
  site into an empty server; then a new site pulls all ``--big`` executions: time and peak RSS of
  both processes.

Every transfer is checked: the receiving store's counts must equal the sender's.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from pipeline import MltrailBench
from remote import Server, cpu_seconds, database, load, rss_kb

import mltrail
from mltrail import sync

STEPS = 5


def peak_rss_mb() -> float:
    """This process's peak RSS so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def server_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return rss_kb(pid) / 1024


def make_site(path: Path, executions: int, first_run: int = 0) -> str:
    """A site store with ``executions`` pipeline steps; returns its URL."""
    url = f"sqlite:///{path}"
    bench = MltrailBench(url)
    made = 0
    run = first_run
    while made < executions:
        previous = bench.new_source(run)
        for k in range(min(STEPS, executions - made)):
            previous = bench.step_once(run, k, previous)
            made += 1
        run += 1
    bench.store.close()
    return url


def counts(store: Any) -> tuple[int, int, int]:
    return store.count_artifacts(), store.count_executions(), store.count_contexts()


def check(sender: str, receiver: Any) -> None:
    with mltrail.connect(sender) as site:
        if counts(site) != counts(receiver):
            raise SystemExit(f"the receiver holds {counts(receiver)}, the site {counts(site)}")


def first_push(args: argparse.Namespace, tmp: Path, store: str) -> None:
    site = make_site(tmp / "site.db", args.executions)
    server = Server(store, tmp / "home-first", 1)
    try:
        print(f"\n== first push of {args.executions:,} executions ({load()}) ==")
        server_cpu = cpu_seconds(server.pid)
        client_cpu = time.process_time()
        start = time.perf_counter()
        report = sync.push(site, server.url)
        took = time.perf_counter() - start
        client_cpu = time.process_time() - client_cpu
        server_cpu = cpu_seconds(server.pid) - server_cpu
        with mltrail.connect(server.url) as remote:
            check(site, remote)
        print(f"  {report.summary()}")
        print(f"  {took:.2f} s: {args.executions / took:,.0f} executions/s end to end")
        print(f"  CPU: client {client_cpu:.2f} s, server {server_cpu:.2f} s")
        print(
            f"  peak RSS: client {peak_rss_mb():.0f} MB, server {server_peak_mb(server.pid):.0f} MB"
        )
        again = sync.push(site, server.url)
        print(f"  pushing again: {again.records} records, {again.bytes:,} bytes")
    finally:
        server.close()


def delta(args: argparse.Namespace, tmp: Path, store: str) -> None:
    site = make_site(tmp / "big.db", args.big)
    server = Server(store, tmp / "home-delta", 1)
    try:
        print(f"\n== a server of {args.big:,} executions ({load()}) ==")
        start = time.perf_counter()
        report = sync.push(site, server.url)
        took = time.perf_counter() - start
        print(
            f"  first push: {took:.1f} s ({args.big / took:,.0f} executions/s); {report.summary()}"
        )
        print(
            f"  peak RSS: client {peak_rss_mb():.0f} MB, server {server_peak_mb(server.pid):.0f} MB"
        )
        make_more(site, 10, run=10**6)
        start = time.perf_counter()
        small = sync.push(site, server.url)
        took = time.perf_counter() - start
        with mltrail.connect(server.url) as remote:
            check(site, remote)
        print(
            f"  delta of 10 new executions: {took * 1000:.0f} ms, {small.records} records, "
            f"{small.bytes:,} bytes"
        )
        alone = make_site(tmp / "ten.db", 0)
        make_more(alone, 10, run=10**6)
        empty = Server(f"sqlite:///{tmp / 'empty.db'}", tmp / "home-empty", 1)
        try:
            into_empty = sync.push(alone, empty.url)
        finally:
            empty.close()
        print(
            f"  the same 10 executions into an empty server: {into_empty.records} records, "
            f"{into_empty.bytes:,} bytes"
        )
        start = time.perf_counter()
        fresh = tmp / "fresh.db"
        pulled = sync.pull(f"sqlite:///{fresh}", server.url)
        took = time.perf_counter() - start
        with mltrail.connect(f"sqlite:///{fresh}") as local:
            check(site, local)
        print(
            f"  a new site pulls everything: {took:.1f} s ({pulled.records:,} records, "
            f"{pulled.bytes:,} bytes); peak RSS: client {peak_rss_mb():.0f} MB, server "
            f"{server_peak_mb(server.pid):.0f} MB"
        )
    finally:
        server.close()


def make_more(url: str, executions: int, run: int) -> None:
    bench = MltrailBench(url)
    previous = bench.new_source(run)
    for k in range(executions):
        previous = bench.step_once(run, k, previous)
    bench.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", help="a server database for the server's store (dropped after)")
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--only", choices=["first", "delta"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for part, run in (("first", first_push), ("delta", delta)):
            if args.only in (None, part):
                with database(args.url, tmp / part) as store:
                    (tmp / part).mkdir(exist_ok=True)
                    run(args, tmp, store)
    print(f"\ncommand: python {' '.join(sys.argv)} (Python {sys.version.split()[0]}; {load()})")


if __name__ == "__main__":
    main()
