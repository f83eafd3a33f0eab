"""OpenLineage ingest into a local server: run events per second through POST /api/v1/lineage.

Workload: RUNS runs of one job, each reported as a START event (two input datasets out of a
pool of 50) and a COMPLETE event (one new output dataset, an output-statistics facet), so
2 x RUNS events. ``mltrail serve`` runs on a new SQLite file (one worker). Two ways of sending:
one event per request (what OpenLineage's HTTP transport does; one keep-alive connection) and
batches of BATCH events per request (a JSON list). Each way is timed on a store of its own;
what the store holds afterwards is checked (runs, datasets, events), so a speed-up cannot
change the answer.

    python benchmarks/openlineage.py                 # 1,000 runs: 2,000 events each way
    python benchmarks/openlineage.py --runs 100      # a smoke run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from remote import Server, load

import mltrail


def events(runs: int) -> list[dict[str, Any]]:
    out = []
    for index in range(runs):
        run = {"runId": str(uuid.UUID(int=index + 1))}
        job = {"namespace": "bench", "name": "etl.load"}
        inputs = [
            {"namespace": "postgres://db", "name": f"public.source_{(index + k) % 50}"}
            for k in (0, 1)
        ]
        output = {
            "namespace": "s3://bucket",
            "name": f"out/{index}",
            "outputFacets": {"outputStatistics": {"rowCount": index}},
        }
        base = {"producer": "benchmarks/openlineage.py", "run": run, "job": job}
        out.append(
            {**base, "eventType": "START", "eventTime": "2026-12-01T10:00:00Z", "inputs": inputs}
        )
        out.append(
            {
                **base,
                "eventType": "COMPLETE",
                "eventTime": "2026-12-01T10:01:00Z",
                "inputs": inputs,
                "outputs": [output],
            }
        )
    return out


def check(url: str, runs: int) -> None:
    with mltrail.connect(url) as store:
        executions = store.get_executions()
        assert len(executions) == runs, len(executions)
        assert {e.last_known_state for e in executions} == {mltrail.ExecutionState.COMPLETE}
        assert len(store.get_artifacts()) == runs + min(50, runs + 1)
        assert len(store.get_events_by_execution_ids([e.id for e in executions])) == 3 * runs


def send(url: str, sent: list[dict[str, Any]], batch: int | None) -> None:
    """One sender: its events one per request (batch None) or BATCH per request, in order."""
    with httpx.Client(base_url=url, timeout=60) as http:
        if batch is None:
            for event in sent:
                http.post("/api/v1/lineage", json=event).raise_for_status()
        else:
            for first in range(0, len(sent), batch):
                part = sent[first : first + batch]
                http.post("/api/v1/lineage", json=part).raise_for_status()


def timed(
    home: Path, sent: list[dict[str, Any]], batch: int | None, runs: int, senders: int = 1
) -> float:
    """Events per second into a new server; with several senders each sends whole runs (a
    run's START before its COMPLETE), all at once, as producers of a busy site do."""
    server = Server(f"sqlite:///{home / 'store.db'}", home, 1)
    try:
        shares = [
            [e for i, e in enumerate(sent) if (i // 2) % senders == k] for k in range(senders)
        ]
        with ThreadPoolExecutor(senders) as pool:
            started = time.perf_counter()
            for done in [pool.submit(send, server.url, share, batch) for share in shares]:
                done.result()
            elapsed = time.perf_counter() - started
        check(server.url, runs)
    finally:
        server.close()
    return len(sent) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--senders", type=int, default=4, help="senders at once (default 4)")
    args = parser.parse_args()
    sent = events(args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        single = timed(Path(tmp) / "single", sent, None, args.runs)
        several = timed(Path(tmp) / "several", sent, None, args.runs, args.senders)
        batched = timed(Path(tmp) / "batched", sent, args.batch, args.runs)
    print(f"{len(sent):,} events ({args.runs:,} runs), mltrail serve on SQLite, {load()}")
    print(f"  one event per request, one sender : {single:8,.0f} events/s")
    print(
        f"  one event per request, {args.senders} senders: {several:8,.0f} events/s   (goal >= 500)"
    )
    print(f"  {args.batch} events per request, one sender: {batched:8,.0f} events/s")
    print(f"\ncommand: python {' '.join(sys.argv)}")


if __name__ == "__main__":
    main()
