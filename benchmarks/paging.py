"""Paging through big listings, and what a pipeline step writes to a SQLite file.

The current schema is measured, with ML Metadata (MLMD) side by side where it is installed, rounds
alternated, except for paging (MLMD's Python API returns no page tokens). Earlier schema versions
were measured here when they were current (docs/performance.md): the library writes only the
current schema, so they cannot be measured with it any more.

* ``pages``: COUNT artifacts of TYPES types (interleaved); pages of 100 of one type, in id
  order (the default) and in create-time order, read one after the other with page tokens.
  Reported: the median time of the pages near the start, and of the last ten.
* ``wal``: RUNS x STEPS pipeline steps (``benchmarks/pipeline.py``'s workload) on a SQLite file
  with checkpoints switched off, so that the WAL holds every page the steps wrote: pages per
  step = WAL frames / steps.
* ``steps``: put_execution steps per second on a SQLite file: mltrail with checkpoints in the
  background (the default), mltrail checkpointing in each commit (SQLite's own
  ``wal_autocheckpoint``, as before), and MLMD.

* ``context`` (with ``--mysql``): the same pipeline workload on a MySQL/MariaDB server, then
  the artifacts of one run's context, per call; mltrail and MLMD side by side. It creates (and
  drops at the end) two databases of that server: ``mltrail_bench_ctx`` and
  ``mltrail_bench_ctx_mlmd``.

    python benchmarks/paging.py                   # everything on SQLite (about a minute)
    python benchmarks/paging.py --only pages --count 100000
    python benchmarks/paging.py --only context --mysql "mysql://root@127.0.0.1:3306/?ssl_disabled=true"
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

import mltrail
from mltrail import Artifact, MetadataStore
from mltrail.backends.sql.dialects import sqlite as sqlite_dialect
from mltrail.backends.sql.dialects._statistics import CHECK_INTERVAL
from mltrail.backends.sql.migrations import library_schema_version

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline  # the workload of the pipeline benchmark, reused

ml_metadata = pipeline.ml_metadata
PAGE = 100
CURRENT = f"schema v{library_schema_version()}"


def open_store(path: str) -> MetadataStore:
    """A store in ``path``, at the current schema."""
    return mltrail.connect(f"sqlite:///{path}")


# ------------------------------------------------------------------------------------- pages


class MltrailPages:
    def __init__(self, store: MetadataStore, name: str) -> None:
        self.name = name
        self.store = store

    def load(self, count: int, types: int) -> None:
        ids = [
            self.store.put_artifact_type(mltrail.ArtifactType(name=f"T{t}")) for t in range(types)
        ]
        batch = 2000
        for start in range(0, count, batch):
            self.store.put_artifacts(
                [
                    Artifact(type_id=ids[i % types], uri=f"/a/{i}")
                    for i in range(start, min(count, start + batch))
                ]
            )

    def page(self, order: str, token: str | None) -> tuple[list[int], str | None]:
        found = self.store.get_artifacts_by_type("T1", limit=PAGE, order_by=order, page_token=token)
        return [a.id for a in found], found.next_page_token

    def page_of_all(self, order: str, token: str | None) -> tuple[list[int], str | None]:
        found = self.store.get_artifacts(limit=PAGE, order_by=order, page_token=token)
        return [a.id for a in found], found.next_page_token


def pages(tmp: str, count: int, types: int, rounds: int) -> dict[str, dict[str, float]]:
    systems: list[Any] = [MltrailPages(open_store(os.path.join(tmp, "p.db")), CURRENT)]
    for system in systems:
        system.load(count, types)
    deep = count // types // PAGE - 2  # the page number of the deep page
    rows: dict[str, dict[str, list[float]]] = {s.name: {} for s in systems}
    for order in ("id", "create_time"):
        answers: dict[str, list[list[int]]] = {}
        for _ in range(rounds):
            for system in systems:  # rounds alternated
                token = None
                seen = []
                times = []
                for _page in range(deep + 1):
                    start = time.perf_counter()
                    ids, token = system.page(order, token)
                    times.append(time.perf_counter() - start)
                    seen.append(ids)
                answers.setdefault(system.name, seen)
                cell = rows[system.name]
                cell.setdefault(f"{order} order: pages 2-11 (ms)", []).extend(
                    t * 1000 for t in times[1:11]
                )
                cell.setdefault(f"{order} order: pages {deep - 8}-{deep + 1} (ms)", []).extend(
                    t * 1000 for t in times[-10:]
                )
    for order in ("id", "create_time"):  # the first pages of everything
        seen_all = []
        for _ in range(rounds):
            for system in systems:
                token = None
                times = []
                for _page in range(10):
                    start = time.perf_counter()
                    ids, token = system.page_of_all(order, token)
                    times.append(time.perf_counter() - start)
                seen_all.append(ids)
                key = f"all types, {order} order: pages 1-10 (ms)"
                rows[system.name].setdefault(key, []).extend(t * 1000 for t in times)
        assert all(ids == seen_all[0] for ids in seen_all)
    return {name: {k: statistics.median(v) for k, v in c.items()} for name, c in rows.items()}


# --------------------------------------------------------------------------------------- wal


@contextmanager
def no_checkpoints() -> Iterator[None]:
    """Neither the commits nor the background thread checkpoint: the WAL keeps every frame."""
    original = sqlite_dialect._Checkpointer.checkpoint
    sqlite_dialect._Checkpointer.checkpoint = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        sqlite_dialect._Checkpointer.checkpoint = original  # type: ignore[method-assign]


class Bench(pipeline.MltrailBench):
    """The pipeline workload on a given store."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        p = mltrail.PropertyType
        self.data = store.put_artifact_type(
            mltrail.ArtifactType(name="Data", properties={"rows": p.INT, "acc": p.DOUBLE})
        )
        self.step = store.put_execution_type(
            mltrail.ExecutionType(name="Step", properties={"lr": p.DOUBLE})
        )
        self.run = store.put_context_type(mltrail.ContextType(name="Run"))


def run_steps(bench: Any, runs: int, steps: int, first_run: int = 0) -> int:
    for run in range(first_run, first_run + runs):
        artifact = bench.new_source(run)
        for k in range(steps):
            artifact = bench.step_once(run, k, artifact)
    return runs * steps


def wal_pages(tmp: str, runs: int, steps: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with no_checkpoints():
        for name in (CURRENT,):
            path = os.path.join(tmp, "wal.db")
            store = open_store(path)
            bench = Bench(store)
            run_steps(bench, 20, steps)  # warm: the tables are past their first pages
            before = os.path.getsize(f"{path}-wal")
            done = run_steps(bench, runs, steps, first_run=20)
            frame = 4096 + 24
            written = (os.path.getsize(f"{path}-wal") - before) / frame
            out[name] = {"WAL pages per step": written / done}
            store.close()
    return out


# ------------------------------------------------------------------------------------- steps


@contextmanager
def checkpoints_in_commits() -> Iterator[None]:
    """Every new SQLite connection checkpoints in its commits again (SQLite's default)."""

    def configure(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint = 1000")

    original = sqlite_dialect._Checkpointer.checkpoint
    sqlite_dialect._Checkpointer.checkpoint = lambda self: None  # type: ignore[method-assign]
    event.listen(sqlite_dialect.Engine, "connect", configure)
    try:
        yield
    finally:
        event.remove(sqlite_dialect.Engine, "connect", configure)
        sqlite_dialect._Checkpointer.checkpoint = original  # type: ignore[method-assign]


def step_rates(tmp: str, runs: int, steps: int, rounds: int) -> dict[str, dict[str, float]]:
    def mltrail_round(path: str) -> float:
        store = open_store(path)
        bench = Bench(store)
        start = time.perf_counter()
        done = run_steps(bench, runs, steps)
        rate = done / (time.perf_counter() - start)
        store.close()
        return rate

    def in_commits(path: str) -> float:
        with checkpoints_in_commits():
            return mltrail_round(path)

    def mlmd_round(path: str) -> float:
        bench = pipeline.MlmdBench(path)
        start = time.perf_counter()
        done = run_steps(bench, runs, steps)
        return done / (time.perf_counter() - start)

    contenders: dict[str, Callable[[str], float]] = {
        "mltrail, background checkpoints": mltrail_round,
        "mltrail, checkpoints in commits": in_commits,
    }
    if ml_metadata is not None:
        contenders["MLMD 1.17"] = mlmd_round
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(rounds):
        for name, fn in contenders.items():  # rounds alternated
            rates[name].append(fn(os.path.join(tmp, f"s{r}-{len(rates[name])}-{hash(name)}.db")))
    return {name: {"put_execution steps/s": statistics.median(v)} for name, v in rates.items()}


# ----------------------------------------------------------------------------------- context


class MlmdServerBench(pipeline.MlmdBench):
    """The pipeline workload of MLMD on a MySQL/MariaDB database."""

    def __init__(self, url: Any) -> None:
        assert ml_metadata is not None
        pb = pipeline.mlmd_pb
        config = pb.ConnectionConfig()
        config.mysql.host = url.host or "127.0.0.1"
        config.mysql.port = url.port or 3306
        config.mysql.database = url.database
        config.mysql.user = url.username or "root"
        if url.password:
            config.mysql.password = url.password
        self.store = ml_metadata.MetadataStore(config)
        self.data = self.store.put_artifact_type(
            pb.ArtifactType(name="Data", properties={"rows": pb.INT, "acc": pb.DOUBLE})
        )
        self.step = self.store.put_execution_type(
            pb.ExecutionType(name="Step", properties={"lr": pb.DOUBLE})
        )
        self.run = self.store.put_context_type(pb.ContextType(name="Run"))


def by_context(server: str, runs: int, steps: int, rounds: int) -> dict[str, dict[str, float]]:
    given = make_url(server)
    admin = sa.create_engine(given.set(drivername="mysql+pymysql", database=None))
    names = {CURRENT: "mltrail_bench_ctx", "MLMD 1.17": "mltrail_bench_ctx_mlmd"}
    if ml_metadata is None:
        del names["MLMD 1.17"]
    with admin.begin() as conn:
        for name in names.values():
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    benches: dict[str, Any] = {}
    stores = []
    try:
        for system, name in names.items():
            url = given.set(database=name)
            if system == "MLMD 1.17":
                benches[system] = MlmdServerBench(url)
                continue
            store = mltrail.connect(url.render_as_string(hide_password=False))
            stores.append(store)
            benches[system] = Bench(store)
        for bench in benches.values():
            run_steps(bench, runs, steps)
        time.sleep(CHECK_INTERVAL + 1)  # the background check of the statistics runs meanwhile
        middle = f"run-{runs // 2}"
        calls: dict[str, Callable[[], list[str]]] = {}
        for system, bench in benches.items():
            context = bench.store.get_context_by_type_and_name("Run", middle)

            def call(bench: Any = bench, context_id: int = context.id) -> list[str]:
                return sorted(a.uri for a in bench.store.get_artifacts_by_context(context_id))

            calls[system] = call
        answers = {system: call() for system, call in calls.items()}
        assert all(a == answers[CURRENT] for a in answers.values()), answers
        times: dict[str, list[float]] = {system: [] for system in calls}
        for _ in range(rounds * 20):
            for system, call in calls.items():  # rounds alternated
                start = time.perf_counter()
                call()
                times[system].append(time.perf_counter() - start)
        return {
            system: {"artifacts of one context (ms)": statistics.median(t) * 1000}
            for system, t in times.items()
        }
    finally:
        for store in stores:
            store.close()
        with admin.begin() as conn:
            for name in names.values():
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


def show(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n== {title} ==")
    keys = list(dict.fromkeys(k for cells in rows.values() for k in cells))
    width = max(len(k) for k in keys)
    names = list(rows)
    print(f"{'':<{width}}  " + "  ".join(f"{n:>32}" for n in names))
    for key in keys:
        cells = [rows[n].get(key) for n in names]
        print(
            f"{key:<{width}}  "
            + "  ".join(f"{c:>32.3f}" if c is not None else f"{'—':>32}" for c in cells)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", choices=["pages", "wal", "steps", "context"], default=None)
    parser.add_argument(
        "--mysql",
        help="a MySQL/MariaDB server URL for the context scenario (it creates and drops three "
        "databases named mltrail_bench_ctx_*)",
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--types", type=int, default=4)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "pages"):
            show(
                f"pages of {PAGE} of one type, {args.count} artifacts of {args.types} types",
                pages(tmp, args.count, args.types, args.rounds),
            )
        if args.only in (None, "wal"):
            title = "SQLite file: pages written per pipeline step"
            show(title, wal_pages(tmp, args.runs, args.steps))
        if args.only in (None, "steps"):
            show(
                f"SQLite file: {args.runs} runs x {args.steps} steps",
                step_rates(tmp, args.runs, args.steps, args.rounds),
            )
        if args.only in (None, "context") and args.mysql:
            show(
                f"{make_url(args.mysql).host}: {args.runs} runs x {args.steps} steps",
                by_context(args.mysql, args.runs, args.steps, args.rounds),
            )
    if ml_metadata is None:
        print("\n(ml_metadata is not installed: MLMD was not measured)")
    print(f"\ncommand: python benchmarks/paging.py (Python {sys.version.split()[0]}); medians")


if __name__ == "__main__":
    main()
