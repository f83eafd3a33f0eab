"""Pipeline steps on database servers: mltrail and ML Metadata side by side on the same server.

A step is one ``put_execution`` with two events (an input artifact passed back as stored, a new
output artifact) and the run's context reused by name, as in ``benchmarks/pipeline.py``. Rounds
alternate between the systems (mltrail, MLMD, mltrail, ...) so that load from other processes
hits both alike; it prints the median steps/s of each system and the median of the rounds'
ratios (tests/store/test_statement_budget.py counts the requests a step sends). At the end
both stores must hold the same graph (the artifacts and executions of every run).

    python benchmarks/servers.py                       # PostgreSQL and MariaDB on 127.0.0.1
    python benchmarks/servers.py --server mysql --rounds 9 --steps 300
    python benchmarks/servers.py --mysql-url 'mysql+mysqldb://root@127.0.0.1/'   # C driver

Each server needs an account that may create databases (the defaults are the local servers of
docs/backends.md). The benchmark creates the databases ``mltrail_bench_steps`` and
``mlmd_bench_steps``, dropping them first if they exist, and drops them at the end. MLMD is
measured when ``ml_metadata`` is importable (``pip install ml-metadata==1.17.1``); its MySQL
support works with MariaDB, and 1.17 also speaks PostgreSQL.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import sqlalchemy as sa
from pipeline import MlmdBench, MltrailBench
from sqlalchemy.engine import URL, make_url

try:  # optional: the system we compare with
    import ml_metadata
    from ml_metadata.proto import metadata_store_pb2 as mlmd_pb
except ImportError:  # pragma: no cover - depends on the machine
    ml_metadata = None

DEFAULT_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql://root@127.0.0.1:3306/?ssl_disabled=true",
}
DATABASES = ("mltrail_bench_steps", "mlmd_bench_steps")


# ---------------------------------------------------------------------------------- the databases


def admin_engine(url: URL) -> sa.Engine:
    driver = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}[url.get_backend_name()]
    return sa.create_engine(url.set(drivername=driver), isolation_level="AUTOCOMMIT")


def recreate(url: URL, names: tuple[str, ...], *, drop_only: bool = False) -> None:
    engine = admin_engine(url)
    try:
        with engine.connect() as conn:
            for name in names:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
                if not drop_only:
                    conn.exec_driver_sql(f"CREATE DATABASE {name}")
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------- systems


class Mltrail(MltrailBench):
    def __init__(self, url: URL) -> None:
        super().__init__(url.render_as_string(hide_password=False))

    def source(self, run: int) -> Any:
        return self.new_source(run)

    def graph(self, run: int) -> tuple[list[str], int]:
        context = self.store.get_context_by_type_and_name("Run", f"run-{run}")
        assert context is not None
        uris = sorted(a.uri or "" for a in self.store.get_artifacts_by_context(context.id))
        return uris, len(self.store.get_executions_by_context(context.id))

    def close(self) -> None:
        self.store.close()


class Mlmd(MlmdBench):
    name = "MLMD 1.17"

    def __init__(self, url: URL, database: str) -> None:
        assert ml_metadata is not None
        config = mlmd_pb.ConnectionConfig()
        if url.get_backend_name() == "mysql":
            config.mysql.host = url.host or "127.0.0.1"
            config.mysql.port = url.port or 3306
            config.mysql.user = url.username or "root"
            config.mysql.password = url.password or ""
            config.mysql.database = database
        else:
            config.postgresql.host = url.host or "127.0.0.1"
            config.postgresql.port = str(url.port or 5432)
            config.postgresql.user = url.username or "postgres"
            if url.password:
                config.postgresql.password = url.password
            config.postgresql.dbname = database
        super().__init__(None, config)

    def source(self, run: int) -> Any:
        return self.new_source(run)

    def graph(self, run: int) -> tuple[list[str], int]:
        context = self.store.get_context_by_type_and_name("Run", f"run-{run}")
        uris = sorted(a.uri for a in self.store.get_artifacts_by_context(context.id))
        return uris, len(self.store.get_executions_by_context(context.id))

    def close(self) -> None:
        del self.store


# -------------------------------------------------------------------------------------- measuring


def one_round(system: Any, first_run: int, runs: int, steps: int) -> float:
    """Steps per second of ``runs`` runs of ``steps`` steps, starting at run ``first_run``."""
    start = time.perf_counter()
    for run in range(first_run, first_run + runs):
        artifact = system.source(run)
        for k in range(steps):
            artifact = system.step_once(run, k, artifact)
    return runs * steps / (time.perf_counter() - start)


def measure(url: URL, args: argparse.Namespace) -> None:
    title = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB"}[url.get_backend_name()]
    print(f"\n== {title} on {url.host}:{url.port or ''} ({url.drivername}) ==")
    recreate(url, DATABASES)
    systems: list[Any] = []
    try:
        systems.append(Mltrail(url.set(database=DATABASES[0])))
        if ml_metadata is not None:
            systems.append(Mlmd(url, DATABASES[1]))
        rates: dict[str, list[float]] = {s.name: [] for s in systems}
        runs_per_round = max(1, args.steps // args.depth)
        for round_no in range(args.rounds):
            for system in systems:
                rate = one_round(system, round_no * runs_per_round, runs_per_round, args.depth)
                rates[system.name].append(rate)
        total_runs = args.rounds * runs_per_round
        sample = range(0, total_runs, max(1, total_runs // 20))
        answers = {s.name: [s.graph(r) for r in sample] for s in systems}
        if len(systems) == 2:
            a, b = answers.values()
            assert a == b, "the stores disagree about the graph"
        medians = {name: statistics.median(values) for name, values in rates.items()}
        for name, median in medians.items():
            spread = f"{min(rates[name]):.0f}-{max(rates[name]):.0f}"
            print(f"  {name:<10} {median:8.0f} steps/s (median of {args.rounds}; {spread})")
        if len(medians) == 2:
            ours, theirs = rates.values()
            paired = statistics.median(a / b for a, b in zip(ours, theirs))
            print(
                f"  ratio: {paired:.2f}x, the median of the {args.rounds} rounds' ratios "
                "(same answers: yes)"
            )
    finally:
        for system in systems:
            system.close()
        recreate(url, DATABASES, drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--server", choices=["postgresql", "mysql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per system (alternated)")
    parser.add_argument("--steps", type=int, default=200, help="steps per round")
    parser.add_argument("--depth", type=int, default=5, help="steps per run")
    parser.add_argument("--postgresql-url", default=DEFAULT_URLS["postgresql"])
    parser.add_argument("--mysql-url", default=DEFAULT_URLS["mysql"])
    args = parser.parse_args()
    urls = {"postgresql": args.postgresql_url, "mysql": args.mysql_url}
    for server in ["postgresql", "mysql"] if args.server == "both" else [args.server]:
        measure(make_url(urls[server]), args)
    if ml_metadata is None:
        print("\n(ml_metadata is not installed: only mltrail was measured)")
    print(
        f"\ncommand: python benchmarks/servers.py {' '.join(sys.argv[1:])}".rstrip()
        + f" (Python {sys.version.split()[0]})"
    )


if __name__ == "__main__":
    main()
