"""Pipeline steps through the server: the remote client against real ``mltrail serve`` processes.

A step is the pipeline step of ``benchmarks/pipeline.py`` (its ``MltrailBench``): one
``put_execution`` with an input artifact passed back as stored, a new output artifact and the
run's context reused by name. The benchmark starts its own servers (``python -m mltrail serve``
on free loopback ports, each with a temporary ``--home``) on a SQLite file, or on the database
``--url`` names, and measures:

- ``step``: milliseconds per step (median, p99) of one client through the server, and of the
  same step in-process on the same store, rounds alternated; then where a step's time goes
  (client and server wire format, the store, the HTTP floor of an empty request).
- ``concurrency``: steps/s and per-step p50/p99 with 1, 4 and 8 client processes, each running
  its own chains into contexts shared by all of them, against ``--workers 1`` and ``--workers 2``
  servers (configurations alternated round by round).
- ``memory``: the resident set (VmRSS) of the server process before, during and after
  ``--requests`` small requests (nine ``get_artifacts_by_id`` of one id for each step).

At the end the store must hold exactly what the clients wrote: the artifacts, executions and
contexts are counted through the client and compared with what was sent.

    python benchmarks/remote.py                                  # SQLite file, everything
    python benchmarks/remote.py --only step --rounds 9
    python benchmarks/remote.py --only memory --requests 10000   # a quick run
    python benchmarks/remote.py --url postgresql://postgres@127.0.0.1/mltrail_bench_remote

With ``--url`` the database it names is dropped if it exists, created, and dropped at the end
(as ``benchmarks/servers.py`` does): give a scratch name on a server account that may create
databases. The machine's load average is printed with every figure: other work on the machine
slows both sides of a comparison, so compare figures of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pipeline import MltrailBench
from servers import recreate
from sqlalchemy.engine import make_url

from mltrail import Artifact, Context, Event, EventType, Execution, ExecutionState

#: Seconds a server may take to answer /healthz after its start.
START_TIMEOUT = 60.0


# ------------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``python -m mltrail serve STORE --workers N`` on a free loopback port."""

    def __init__(
        self,
        store: str,
        home: Path,
        workers: int,
        variant: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        self.log_path = home / "server.log"
        self._log = self.log_path.open("wb")
        command = [sys.executable, "-m", "mltrail", "serve", store, "--port", str(self.port)]
        command += ["--home", str(home), "--workers", str(workers), *extra]
        if variant is not None:  # benchmarks/server_variants.py, one worker
            script = str(Path(__file__).with_name("server_variants.py"))
            command = [sys.executable, script, store, "--port", str(self.port)]
            command += ["--home", str(home), "--variant", variant]
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"mltrail serve exited at start:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise SystemExit(
                    f"mltrail serve did not answer in {START_TIMEOUT} s:\n{self.log()}"
                )
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        """The process that answers the requests (with one worker, uvicorn's own)."""
        assert self.workers == 1, "with several workers, the requests go to their processes"
        return self.process.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid``, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (5 min {five:.2f})"


# -------------------------------------------------------------------------------------- workload


class Bench(MltrailBench):
    """The pipeline benchmark's workload, counting what it writes."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.written = Written()

    def chain(self, run: int, depth: int, times: list[float] | None = None) -> Any:
        """A new source artifact and ``depth`` steps in the context ``run-<run>``."""
        artifact = self.new_source(run)
        self.written.artifacts += 1
        self.written.runs.add(run)
        for k in range(depth):
            start = time.perf_counter()
            artifact = self.step_once(run, k, artifact)
            if times is not None:
                times.append(time.perf_counter() - start)
            self.written.artifacts += 1
            self.written.executions += 1
        return artifact


@dataclass
class Written:
    artifacts: int = 0
    executions: int = 0
    runs: set[int] = field(default_factory=set)

    def add(self, other: Written) -> None:
        self.artifacts += other.artifacts
        self.executions += other.executions
        self.runs |= other.runs


class Runs:
    """Run numbers handed out once, so that each measurement writes contexts of its own."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> range:
        out = range(self.next, self.next + count)
        self.next += count
        return out


def ms(seconds: float) -> float:
    return seconds * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------------------------ scenarios


def one_client(
    args: argparse.Namespace, store: str, home: Path, runs: Runs, total: Written
) -> None:
    print(f"\n== one client: ms per step, {args.rounds} rounds of {args.steps} steps alternated ==")
    server = Server(store, home / "step", 1)
    try:
        remote, direct = Bench(server.url), Bench(store)
        per_run = max(1, args.steps // args.depth)
        for bench in (remote, direct):  # warm-up: statements compiled, connections open
            for run in runs.take(4):
                bench.chain(run, args.depth)
        times: dict[str, list[float]] = {"through the server": [], "in-process, same store": []}
        medians: dict[str, list[float]] = {name: [] for name in times}
        cpu = {name: [0.0, 0.0] for name in times}  # this process, the server process
        loads = [load()]
        for _ in range(args.rounds):
            for name, bench in zip(times, (remote, direct)):
                round_times: list[float] = []
                mine, its = time.process_time(), cpu_seconds(server.pid)
                for run in runs.take(per_run):
                    bench.chain(run, args.depth, round_times)
                cpu[name][0] += time.process_time() - mine
                cpu[name][1] += cpu_seconds(server.pid) - its
                times[name] += round_times
                medians[name].append(statistics.median(round_times))
        loads.append(load())
        for name, values in times.items():
            spread = f"{ms(min(medians[name])):.2f}-{ms(max(medians[name])):.2f}"
            print(
                f"  {name:<24} median {ms(statistics.median(values)):6.2f} ms  p99 "
                f"{ms(percentile(values, 0.99)):6.2f} ms  (round medians {spread})"
            )
        steps = args.rounds * per_run * args.depth
        for name, (mine, its) in cpu.items():
            print(
                f"  {name:<24} CPU per step: client {ms(mine / steps):.2f} ms, server "
                f"{ms(its / steps):.2f} ms (a run's source artifact included)"
            )
        ratio = statistics.median(a / b for a, b in zip(*medians.values()))
        print(
            f"  server / in-process: {ratio:.1f}x (median of the rounds' ratios); {loads[0]} "
            f"-> {loads[1]}"
        )
        breakdown(remote, direct, store, server, runs, args)
        for bench in (remote, direct):
            total.add(bench.written)
        remote.store.close()
        direct.store.close()
    finally:
        server.close()


def breakdown(
    remote: Bench, direct: Bench, store: str, server: Server, runs: Runs, args: argparse.Namespace
) -> None:
    """Where a step's time goes, each part measured alone in this process (medians)."""
    from mltrail.remote._api import calls
    from mltrail.store import MetadataStore

    call = calls()["put_execution"]
    [run] = runs.take(1)
    source = remote.chain(run, 1)
    output = Artifact(type_id=remote.data, uri="/b", properties={"rows": 1, "acc": 0.1})
    execution = Execution(
        type_id=remote.step, last_known_state=ExecutionState.COMPLETE, properties={"lr": 0.1}
    )
    arguments = (
        execution,
        [(source, Event(type=EventType.INPUT)), (output, Event(type=EventType.OUTPUT))],
        [Context(type_id=remote.run, name=f"run-{run}")],
    )
    options = {"reuse_context_if_already_exist": True}
    answer = json.dumps({"result": call.encode_result((1, [source.id, 2], [3]))})
    body = json.dumps(call.encode_arguments(arguments, options))

    def client_wire() -> None:
        json.dumps(call.encode_arguments(arguments, options), allow_nan=False).encode()
        call.decode_result(json.loads(answer)["result"])

    def server_wire() -> None:
        call.decode_arguments(json.loads(body))
        json.dumps({"result": call.encode_result((1, [source.id, 2], [3]))})

    base = direct.store
    k = [0]
    [direct_run] = runs.take(1)
    direct_source = direct.chain(direct_run, 1)

    def store_fresh() -> None:  # as the server runs it: a new MetadataStore per request
        direct.store = MetadataStore(base.database, base.schema_version)
        k[0] += 1
        direct.step_once(direct_run, k[0], direct_source)
        direct.written.artifacts += 1
        direct.written.executions += 1

    http = httpx.Client(base_url=server.url)

    def http_floor() -> None:  # the second route: no route search, no thread, no store
        http.get("/api/v1/docs").raise_for_status()

    find_route = route_finder(store, server)

    k2 = [0]

    def remote_step() -> None:
        k2[0] += 1
        remote.step_once(run, k2[0], source)
        remote.written.artifacts += 1
        remote.written.executions += 1

    parts: dict[str, float] = {}
    for _ in range(3):  # alternated, medians of medians
        for name, fn in (
            ("step through the server", remote_step),
            ("client: encode the call, decode the answer", client_wire),
            ("server: decode the call, encode the answer", server_wire),
            ("store: the step on a new MetadataStore", store_fresh),
            ("HTTP: GET /api/v1/docs (httpx, h11, uvicorn, FastAPI)", http_floor),
            ("server: find the route (FastAPI, in this process)", find_route),
        ):
            parts.setdefault(name, 0.0)
            parts[name] += median_time(fn, args.breakdown_calls) / 3
        hop = "server: hand the call to a thread (in this process)"
        parts[hop] = parts.get(hop, 0.0) + asyncio.run(thread_hops(args.breakdown_calls)) / 3
    direct.store = base
    http.close()
    total = parts.pop("step through the server")
    print(f"  where a step's time goes (medians of {args.breakdown_calls} calls each; {load()}):")
    for name, value in parts.items():
        print(f"    {name:<54} {ms(value):6.3f} ms")
    rest = total - sum(parts.values())
    print(f"    {'rest: the rest of the handling, waiting for a CPU':<54} {ms(rest):6.3f} ms")
    print(f"    {'step through the server':<54} {ms(total):6.3f} ms")


def route_finder(store: str, server: Server) -> Callable[[], Any]:
    """FastAPI's route search for ``put_execution`` in an application like the server's."""
    from starlette.routing import Match

    from mltrail.server import create_app
    from mltrail.server.settings import Settings

    app = create_app(store, settings=Settings(home=server.log_path.parent / "routes"))
    scope = {"type": "http", "method": "POST", "path": "/api/v1/store/put_execution"}
    scope |= {"root_path": "", "headers": [], "query_string": b""}

    def find() -> None:
        for route in app.router.routes:
            if route.matches(dict(scope))[0] is Match.FULL:
                return
        raise AssertionError("no route for put_execution")

    return find


async def thread_hops(calls: int) -> float:
    """Median seconds to run a no-op in the thread pool from the event loop, as the server
    runs each call (``starlette.concurrency.run_in_threadpool``)."""
    from starlette.concurrency import run_in_threadpool

    times = []
    for _ in range(calls):
        start = time.perf_counter()
        await run_in_threadpool(lambda: None)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_time(fn: Callable[[], Any], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def client_process(
    url: str, run_numbers: list[int], depth: int, barrier: Any, results: Any
) -> None:
    """One client process: its chains, started together with the other clients'."""
    try:
        bench = Bench(url)
        warm = Bench(url)  # connects and learns the types before the clock starts
        warm.store.close()
        barrier.wait()
        times: list[float] = []
        for run in run_numbers:
            bench.chain(run, depth, times)
        end = time.monotonic()
        bench.store.close()
        written = bench.written
        results.put(("ok", times, end, written.artifacts, written.executions, sorted(written.runs)))
    except BaseException as exc:  # reported by the parent
        results.put(("error", repr(exc)))
        raise


def concurrency(
    args: argparse.Namespace, store: str, home: Path, runs: Runs, total: Written
) -> None:
    print(
        f"\n== concurrent client processes: {args.client_steps} steps each, chains of "
        f"{args.depth} in contexts shared by the clients, {args.concurrency_rounds} rounds =="
    )
    servers = {w: Server(store, home / f"workers-{w}", w) for w in (1, 2)}
    ctx = multiprocessing.get_context("spawn")
    results: dict[tuple[int, int], list[tuple[float, list[float]]]] = {}
    loads = [load()]
    try:
        configurations = [(w, c) for w in (1, 2) for c in (1, 4, 8)]
        for round_no in range(args.concurrency_rounds):
            order = configurations if round_no % 2 == 0 else configurations[::-1]
            for workers, clients in order:
                rate, times = measure_clients(ctx, servers[workers].url, clients, args, runs, total)
                results.setdefault((workers, clients), []).append((rate, times))
        loads.append(load())
    finally:
        for server in servers.values():
            server.close()
    print("  workers  clients   steps/s (median; range)   p50 ms   p99 ms")
    for (workers, clients), measured in sorted(results.items()):
        rates = [r for r, _ in measured]
        times = [t for _, ts in measured for t in ts]
        print(
            f"  {workers:>7}  {clients:>7}   {statistics.median(rates):7.0f} "
            f"({min(rates):.0f}-{max(rates):.0f}){'':>6}  {ms(statistics.median(times)):7.2f}  "
            f"{ms(percentile(times, 0.99)):7.2f}"
        )
    print(f"  {loads[0]} -> {loads[1]}")


def measure_clients(
    ctx: Any, url: str, clients: int, args: argparse.Namespace, runs: Runs, total: Written
) -> tuple[float, list[float]]:
    """Steps/s of ``clients`` processes together, and every step's time."""
    per_client = max(1, args.client_steps // args.depth)
    shared = list(runs.take(per_client))  # every client writes into the same contexts
    barrier = ctx.Barrier(clients + 1)
    queue = ctx.Queue()
    processes = [
        ctx.Process(target=client_process, args=(url, shared, args.depth, barrier, queue))
        for _ in range(clients)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)
    start = time.monotonic()
    answers = [queue.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    errors = [a[1] for a in answers if a[0] != "ok"]
    if errors:
        raise SystemExit(f"a client process failed: {errors[0]}")
    times = [t for a in answers for t in a[1]]
    end = max(a[2] for a in answers)
    for answer in answers:
        total.add(Written(answer[3], answer[4], set(answer[5])))
    return per_client * args.depth * clients / (end - start), times


def memory(args: argparse.Namespace, store: str, home: Path, runs: Runs, total: Written) -> None:
    print(f"\n== server memory over {args.requests:,} requests (--workers 1) ==")
    server = Server(store, home / "memory", 1)
    try:
        pid = server.pid
        bench = Bench(server.url)
        [run] = runs.take(1)
        artifact = bench.chain(run, 1)
        ids = [artifact.id]

        def requests(count: int) -> None:
            nonlocal artifact
            for i in range(count):
                if i % 10 == 9:
                    artifact = bench.step_once(run, bench.written.executions, artifact)
                    bench.written.artifacts += 1
                    bench.written.executions += 1
                else:
                    [found] = bench.store.get_artifacts_by_id(ids)
                    assert found.id == ids[0]

        requests(min(2000, args.requests))  # warm-up: caches, pools, allocator arenas
        before = rss_kb(pid)
        print(
            f"  after {min(2000, args.requests):,} warm-up requests: {before / 1024:7.1f} MB  "
            f"({load()})"
        )
        tenth = max(1, args.requests // 10)
        done = 0
        start = time.perf_counter()
        while done < args.requests:
            count = min(tenth, args.requests - done)
            requests(count)
            done += count
            print(f"  after {done:>9,} more requests:  {rss_kb(pid) / 1024:7.1f} MB")
        elapsed = time.perf_counter() - start
        after = rss_kb(pid)
        print(
            f"  growth: {(after - before) / 1024:+.1f} MB over {args.requests:,} requests "
            f"({ms(elapsed) / args.requests:.2f} ms per request; {load()})"
        )
        total.add(bench.written)
        bench.store.close()
    finally:
        server.close()


def variants(args: argparse.Namespace, store: str, home: Path, runs: Runs, total: Written) -> None:
    """Experimental server changes (``benchmarks/server_variants.py``), rounds alternated."""
    import importlib.util

    names = [
        "",
        "no-access-log",
        "one-route",
        "no-thread",
        "uvloop",
        "no-access-log,one-route,uvloop",
    ]
    if not all(importlib.util.find_spec(m) for m in ("httptools", "uvloop")):
        print("\n(httptools and uvloop are not installed: their variants are left out)")
        names = [n for n in names if "uvloop" not in n]
    print(f"\n== server variants: one client, {args.rounds} rounds of {args.steps} steps ==")
    servers = {name: Server(store, home / f"variant-{i}", 1, name) for i, name in enumerate(names)}
    try:
        benches = {name: Bench(server.url) for name, server in servers.items()}
        for bench in benches.values():
            for run in runs.take(4):
                bench.chain(run, args.depth)
        medians: dict[str, list[float]] = {name: [] for name in names}
        cpu = {name: [0.0, 0.0] for name in names}
        loads = [load()]
        for _ in range(args.rounds):
            for name, bench in benches.items():
                pid = servers[name].pid
                times: list[float] = []
                mine, its = time.process_time(), cpu_seconds(pid)
                for run in runs.take(max(1, args.steps // args.depth)):
                    bench.chain(run, args.depth, times)
                cpu[name][0] += time.process_time() - mine
                cpu[name][1] += cpu_seconds(pid) - its
                medians[name].append(statistics.median(times))
        loads.append(load())
        steps = args.rounds * max(1, args.steps // args.depth) * args.depth
        print(f"  {'variant':<32} ms/step (median; rounds)  vs as served  CPU client/server")
        for name in names:
            values = medians[name]
            ratio = statistics.median(a / b for a, b in zip(values, medians[""]))
            print(
                f"  {name or 'as served':<32} {ms(statistics.median(values)):5.2f} "
                f"({ms(min(values)):.2f}-{ms(max(values)):.2f}){'':<6} {ratio:5.2f}x"
                f"       {ms(cpu[name][0] / steps):.2f} / {ms(cpu[name][1] / steps):.2f} ms"
            )
        print(f"  {loads[0]} -> {loads[1]}")
        for bench in benches.values():
            total.add(bench.written)
            bench.store.close()
    finally:
        for server in servers.values():
            server.close()


# ----------------------------------------------------------------------------------- the answer


def check(store: str, home: Path, total: Written) -> None:
    """The store holds exactly what the clients wrote, counted through a client."""
    server = Server(store, home / "check", 1)
    try:
        bench = Bench(server.url)
        found = (
            bench.store.count_artifacts(),
            bench.store.count_executions(),
            bench.store.count_contexts(),
        )
        bench.store.close()
    finally:
        server.close()
    wanted = (total.artifacts, total.executions, len(total.runs))
    print(
        f"\nanswers: {found[0]:,} artifacts, {found[1]:,} executions, {found[2]:,} contexts in "
        f"the store; written {wanted[0]:,}, {wanted[1]:,}, {wanted[2]:,}"
    )
    if found != wanted:
        raise SystemExit("the store does not hold what the clients wrote: writes were lost")


# ------------------------------------------------------------------------------------------ main


@contextmanager
def database(url: str | None, tmp: Path) -> Iterator[str]:
    """The store's URL: a SQLite file in ``tmp``, or the database ``url`` (re-created)."""
    if url is None:
        yield f"sqlite:///{tmp / 'store.db'}"
        return
    parsed = make_url(url)
    if not parsed.database:
        raise SystemExit(f"--url must name a database to create and drop, got {url}")
    admin = parsed.set(database="postgres" if parsed.get_backend_name() == "postgresql" else None)
    recreate(admin, (parsed.database,))
    try:
        yield url
    finally:
        recreate(admin, (parsed.database,), drop_only=True)


def auth_cost(args: argparse.Namespace, store: str, tmp: Path) -> None:
    """The cost of checking a token: the same cheap call against a server without and one with
    authentication (a writer token), rounds alternated."""
    import mltrail
    from mltrail.server.tokens import Registry

    print(
        "\n== authentication: ms per request (get_artifact_types_by_id([])), rounds alternated =="
    )
    open_home, auth_home = tmp / "auth-off", tmp / "auth-on"
    auth_home.mkdir(parents=True, exist_ok=True)
    registry = Registry(f"sqlite:///{auth_home / 'server.db'}")
    token = registry.create("default", "writer", "benchmark")[0]
    registry.close()
    servers = {
        "no auth": Server(store, open_home, 1),
        "auth (token checked)": Server(store, auth_home, 1, extra=("--auth",)),
    }
    try:
        clients = {
            "no auth": mltrail.connect(servers["no auth"].url),
            "auth (token checked)": mltrail.connect(
                servers["auth (token checked)"].url, token=token
            ),
        }
        rounds: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(args.rounds):
            for name, client in clients.items():
                client.get_artifact_types_by_id([])
                started = time.perf_counter()
                for _ in range(args.steps):
                    client.get_artifact_types_by_id([])
                rounds[name].append((time.perf_counter() - started) / args.steps * 1000)
        for name, values in rounds.items():
            print(
                f"  {name:<22} median {statistics.median(values):6.3f} ms (rounds "
                f"{min(values):.3f}-{max(values):.3f})"
            )
        diffs = [b - a for a, b in zip(rounds["no auth"], rounds["auth (token checked)"])]
        print(
            f"  cost of the token check: {statistics.median(diffs):.3f} ms per request "
            f"(median of the rounds' differences); {load()}"
        )
        for client in clients.values():
            client.close()
    finally:
        for server in servers.values():
            server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--only",
        choices=["step", "concurrency", "memory", "auth", "variants"],
        default=None,
        help="one scenario (the server variants run only when asked for)",
    )
    parser.add_argument("--url", help="a database to create, use and drop (default: SQLite file)")
    parser.add_argument("--rounds", type=int, default=5, help="one-client rounds per side")
    parser.add_argument("--steps", type=int, default=500, help="steps per one-client round")
    parser.add_argument("--depth", type=int, default=5, help="steps per run (chain)")
    parser.add_argument("--breakdown-calls", type=int, default=500)
    parser.add_argument("--client-steps", type=int, default=200, help="steps per client process")
    parser.add_argument("--concurrency-rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100_000, help="requests of the memory run")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {load()}")
    runs, total = Runs(), Written()
    with tempfile.TemporaryDirectory(prefix="mltrail-remote-") as name:
        tmp = Path(name)
        with database(args.url, tmp) as store:
            if args.only in (None, "step"):
                one_client(args, store, tmp, runs, total)
            if args.only in (None, "concurrency"):
                concurrency(args, store, tmp, runs, total)
            if args.only in (None, "memory"):
                memory(args, store, tmp, runs, total)
            if args.only in (None, "auth"):
                auth_cost(args, store, tmp)
            if args.only == "variants":
                variants(args, store, tmp, runs, total)
            check(store, tmp, total)
    shown = " ".join(
        make_url(a).render_as_string(hide_password=True) if "://" in a else a for a in sys.argv[1:]
    )
    print(
        f"\ncommand: python benchmarks/remote.py {shown}".rstrip()
        + f" (Python {sys.version.split()[0]}; {load()})"
    )


if __name__ == "__main__":
    main()
