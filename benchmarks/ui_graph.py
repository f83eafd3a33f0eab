"""The web UI's lineage page on a graph of about 1,000 nodes, timed in Chromium.

Workload (``build``): a raw dataset; PREPARE runs of ``prepare`` split it into a train and a
test set; FEATURES runs of ``featurize`` per split make a feature set; RUNS runs of ``train`` per
feature set (the same input, different ``lr``) each write a model and metrics; one
``evaluate`` per model reads it with the test set and writes a report. The defaults (4, 5, 10)
make 1,053 nodes and 1,252 edges, all downstream of the raw dataset.

``mltrail serve`` serves the store; for each variant of the page (every node drawn, and
repeated runs collapsed into groups) every round opens the page in a fresh browser context (no
cache: the scripts are fetched and compiled each time, as on a first visit) and reads, from
``performance.now()`` (milliseconds since the navigation started): when the page's script
started, when the first layout ended (``layoutstop``) and the first frame after it (drawn),
and the CPU time of the page's main thread until then (CDP ``Performance.getMetrics``
``ThreadTime``: what the page costs a core, whatever else the machine runs). The server's time
for the page's JSON model is measured too. Medians and maxima are printed.

    python benchmarks/ui_graph.py                 # 1,053 nodes, 5 rounds, about 30 s
    python benchmarks/ui_graph.py --quick         # 75 nodes, 1 round, 2 variants (the smoke test)
    python benchmarks/ui_graph.py --runs 20       # 2,053 nodes
    python benchmarks/ui_graph.py --screenshot docs/ui/lineage-1000.png  # docs/ui.md's picture

Needs Chromium (``/usr/bin/chromium`` or ``$MLTRAIL_CHROMIUM``) and playwright (the dev extra).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import mltrail
from mltrail import Artifact, Event, EventType, Execution, ExecutionState

CHROMIUM = os.environ.get("MLTRAIL_CHROMIUM", "/usr/bin/chromium")
#: Milliseconds the page may take from navigation to the end of its first layout.
BUDGET_MS = 2000


def build(store: Any, prepare: int, features: int, runs: int, seed: int = 0) -> int:
    """Log the workload into ``store``; the raw dataset's id."""
    rng = random.Random(seed)
    for name in ("Dataset", "Features", "Model", "Metrics", "Report"):
        store.put_artifact_type(mltrail.ArtifactType(name=name))
    for name in ("prepare", "featurize", "train", "evaluate"):
        store.put_execution_type(mltrail.ExecutionType(name=name))
    done = ExecutionState.COMPLETE

    def artifacts(*made: Artifact) -> list[int]:
        return list(store.put_artifacts(list(made)))

    def run(kind: str, reads: list[int], writes: list[int], **params: Any) -> None:
        [execution] = store.put_executions(
            [Execution(type=kind, last_known_state=done, custom_properties=params)]
        )
        events = [Event(artifact_id=a, execution_id=execution, type=EventType.INPUT) for a in reads]
        events += [
            Event(artifact_id=a, execution_id=execution, type=EventType.OUTPUT) for a in writes
        ]
        store.put_events(events)

    [raw] = artifacts(Artifact(type="Dataset", uri="s3://data/raw.parquet"))
    for p in range(prepare):
        train, test = artifacts(
            Artifact(type="Dataset", uri=f"s3://data/split{p}/train.parquet"),
            Artifact(type="Dataset", uri=f"s3://data/split{p}/test.parquet"),
        )
        run("prepare", [raw], [train, test], seed=p)
        for f in range(features):
            [feature] = artifacts(Artifact(type="Features", uri=f"s3://features/{p}-{f}"))
            run("featurize", [train], [feature], window=f + 1)
            for r in range(runs):
                lr = round(rng.uniform(0.001, 0.3), 4)
                model, metrics = artifacts(
                    Artifact(type="Model", uri=f"s3://models/{p}-{f}-{r}.pt"),
                    Artifact(type="Metrics", name=f"metrics {p}-{f}-{r}"),
                )
                run("train", [feature], [model, metrics], lr=lr)
                [report] = artifacts(Artifact(type="Report", uri=f"s3://reports/{p}-{f}-{r}"))
                run("evaluate", [model, test], [report])
    return int(raw)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(store_url: str, home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (home / "server.log").open("wb")
    command = [sys.executable, "-m", "mltrail", "serve", "--port", str(port), store_url]
    process = subprocess.Popen([*command, "--home", str(home)], stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"mltrail serve exited:\n{(home / 'server.log').read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("mltrail serve did not answer within 60 s")


def time_page(browser: Any, url: str, picture: str | None = None) -> dict[str, Any]:
    """One cold visit: the page's times and what it drew (a screenshot to ``picture``)."""
    size = {"width": 900, "height": 700} if picture else {"width": 1280, "height": 860}
    context = browser.new_context(viewport=size)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_function("window.mltrailTimes && window.mltrailTimes.drawn", timeout=60000)
        seen: dict[str, Any] = page.evaluate(
            """() => ({
                times: window.mltrailTimes,
                nodes: window.mltrailGraph.nodes().length,
                edges: window.mltrailGraph.edges().length,
                labelled: window.mltrailGraph.nodes().filter(n => n.data('label')).length,
            })"""
        )
        if errors:
            raise SystemExit(f"the page logged errors: {errors}")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        seen["cpu"] = 1000 * metrics["ThreadTime"]  # the page's main thread, until drawn
        if picture:
            page.locator("#graph").screenshot(path=picture)  # the picture alone
        return seen
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", type=int, default=4)
    parser.add_argument("--features", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 x 2 x 3 (75 nodes), one round")
    parser.add_argument("--screenshot", help="save a picture of the page drawing every node here")
    args = parser.parse_args()
    if args.quick:
        args.prepare, args.features, args.runs, args.rounds = 2, 2, 3, 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="mltrail-ui-bench-") as scratch:
        home = Path(scratch)
        store_url = f"sqlite:///{home / 'store.db'}"
        store = mltrail.connect(store_url)
        raw = build(store, args.prepare, args.features, args.runs)
        nodes, executions = store.count_artifacts(), store.count_executions()
        store.close()
        print(f"store: {nodes} artifacts + {executions} executions = {nodes + executions} nodes")
        process, url = serve(store_url, home)
        try:
            path = f"/lineage/artifact/{raw}?direction=downstream&depth=all"
            twin = []
            for _ in range(args.rounds if args.quick else max(3, args.rounds)):
                start = time.perf_counter()
                answer = httpx.get(f"{url}/api/v1/ui{path}&collapse=0", timeout=60)
                twin.append(1000 * (time.perf_counter() - start))
                answer.raise_for_status()
            model = answer.json()
            print(
                f"server: JSON model of {len(model['nodes'])} nodes and {len(model['edges'])} "
                f"edges in {statistics.median(twin):.0f} ms (median of {len(twin)})"
            )
            with sync_playwright() as driver:
                browser = driver.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                try:
                    worst = report(browser, url, path, args.rounds, args.screenshot, args.quick)
                finally:
                    browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    verdict = "within" if worst <= BUDGET_MS else "over"
    print(f"every node laid out in {worst:.0f} ms (median): {verdict} the {BUDGET_MS} ms budget")


def report(
    browser: Any, url: str, path: str, rounds: int, picture: str | None, quick: bool
) -> float:
    """Time every variant; the median layoutstop of the page drawing every node."""
    worst = 0.0
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; medians (max) in ms")
    print(
        f"{'variant':<24} {'drawn':>12} {'script start':>13} {'layoutstop':>15} {'drawn':>15}"
        f" {'main CPU':>9}"
    )
    variants = [("every node", "&collapse=0", rounds), ("repeated runs collapsed", "", rounds)]
    if not quick:
        # dagre whatever the size (auto uses it up to 300 nodes), and the layers layout whatever
        # the size, once each (dagre takes seconds at 1,000 nodes).
        variants += [
            ("every node, dagre", "&collapse=0&layout=dagre", 1),
            ("every node, layers", "&collapse=0&layout=layers", 1),
        ]
    for name, query, times in variants:
        seen = [time_page(browser, f"{url}/ui{path}{query}") for _ in range(times)]
        if picture and query == "&collapse=0":
            time_page(browser, f"{url}/ui{path}{query}", picture)  # not counted
        start = [s["times"]["start"] for s in seen]
        stops = [s["times"]["layoutstop"] for s in seen]
        drawn = [s["times"]["drawn"] for s in seen]
        cpu = [s["cpu"] for s in seen]
        shape = f"{seen[0]['nodes']}n/{seen[0]['edges']}e"
        print(
            f"{name:<24} {shape:>12} {statistics.median(start):>13.0f}"
            f" {statistics.median(stops):>8.0f} ({max(stops):>4.0f})"
            f" {statistics.median(drawn):>8.0f} ({max(drawn):>4.0f})"
            f" {statistics.median(cpu):>9.0f}"
        )
        if query == "&collapse=0":
            worst = statistics.median(stops)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return worst


if __name__ == "__main__":
    main()
