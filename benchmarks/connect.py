"""Opening a store on a database server: ``mltrail.connect(url)`` and its first call, against the
driver's own connect to the same server.

Each round opens a new store (a new engine, so a new connection), writes one type and closes it;
the median of the rounds is reported. For reference, the same number of bare driver connections
(``pymysql.connect`` for a MySQL URL whatever its driver, ``psycopg.connect`` for PostgreSQL,
with the URL's host, user and database and no other option) are timed in the same run,
alternated with the stores.

    python benchmarks/connect.py --url mysql://root@127.0.0.1/mltrail_bench_connect
    python benchmarks/connect.py --url postgresql://postgres@127.0.0.1/mltrail_bench_connect

The database must exist; mltrail creates its tables in it on first use (give a scratch one).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from sqlalchemy.engine import make_url

import mltrail


def bare_driver(url: str) -> Callable[[], None]:
    """A connect of the URL's driver with nothing but its address, user and database."""
    given = make_url(url)
    if given.get_backend_name() in ("mysql", "mariadb"):
        import pymysql

        def mysql() -> None:
            pymysql.connect(
                host=given.host,
                port=given.port or 3306,
                user=given.username,
                password=given.password or "",
                database=given.database,
            ).close()

        return mysql
    import psycopg

    def postgresql() -> None:
        psycopg.connect(
            host=given.host,
            port=given.port or 5432,
            user=given.username,
            password=given.password,
            dbname=given.database,
        ).close()

    return postgresql


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a scratch database on a server")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    def store() -> None:
        with mltrail.connect(args.url) as opened:
            opened.put_artifact_type(mltrail.ArtifactType(name="Connect"))

    calls = {
        "mltrail.connect + one write": store,
        "the driver's connect alone": bare_driver(args.url),
    }
    for call in calls.values():
        call()  # warm-up: tables created, modules imported
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1000)
    print(f"{make_url(args.url).render_as_string(hide_password=True)}, {args.rounds} rounds:")
    for name, values in samples.items():
        print(f"  {name:<28} {statistics.median(values):7.1f} ms (median)")
    print(f"command: python {' '.join(sys.argv)} (Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
