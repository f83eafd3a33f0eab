"""Server-side time of the web UI's table and node pages over a big store.

A SQLite store of ``--count`` artifacts (100,000 by default; put in batches with put_artifacts)
of four types (Dataset 50%, Model 30%, Metrics 19.9%, Report 0.1%), with declared and custom
properties, a context holding 1% of them, is read by the pages' own builders, and each model is
rendered with the page's template, in this process. For each page: the median of ``--rounds``
calls of the builder (the store calls), of the rendering, and of both. ``--live`` also asks a
running ``mltrail serve`` over HTTP (httpx, one connection): the median answer time.

Pages: the first page of the artifacts table; a deep page (the page after row 90% of the
table, reached by following page tokens); a filtered page (a property filter); the page of one
type (the type facet: its counts and rows); the first page in create-time order; an artifact's
page and the context's page. The target is 100 ms for each table page.

    python benchmarks/ui.py                      # 100,000 artifacts (about a minute)
    python benchmarks/ui.py --count 1000 --rounds 3 --live
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import mltrail
from mltrail import Artifact, ArtifactType, Context, ContextType, PropertyType
from mltrail.server.ui import environment, nodes, tables

BATCH = 2000
#: The page limit of the deep walk (the token does not depend on it).
WALK_LIMIT = 500
TARGET_MS = 100.0
TYPES = (("Dataset", 0.5), ("Model", 0.3), ("Metrics", 0.199), ("Report", 0.001))


def type_of(i: int) -> str:
    """The type of artifact ``i``: the shares of TYPES, interleaved."""
    slot = (i * 7919) % 1000
    total = 0.0
    for name, share in TYPES:
        total += share * 1000
        if slot < total:
            return name
    return TYPES[-1][0]


def load(path: Path, count: int) -> int:
    """Write the store; returns the id of the context."""
    store = mltrail.connect(f"sqlite:///{path}")
    try:
        ids = {
            "Dataset": store.put_artifact_type(
                ArtifactType(
                    name="Dataset",
                    properties={"rows": PropertyType.INT, "split": PropertyType.STRING},
                )
            ),
            "Model": store.put_artifact_type(
                ArtifactType(
                    name="Model",
                    properties={"accuracy": PropertyType.DOUBLE, "framework": PropertyType.STRING},
                )
            ),
            "Metrics": store.put_artifact_type(ArtifactType(name="Metrics")),
            "Report": store.put_artifact_type(ArtifactType(name="Report")),
        }
        for start in range(0, count, BATCH):
            batch = []
            for i in range(start, min(count, start + BATCH)):
                kind = type_of(i)
                props: dict[str, Any] = {}
                if kind == "Dataset":
                    props = {"rows": i % 5000, "split": ("train", "eval", "test")[i % 3]}
                elif kind == "Model":
                    props = {"accuracy": (i % 1000) / 1000, "framework": "torch"}
                batch.append(
                    Artifact(
                        type_id=ids[kind],
                        name=f"{kind.lower()}-{i}",
                        uri=f"s3://bucket/{kind.lower()}/{i}",
                        external_id=f"sha256:{i:064x}",
                        state=Artifact.State.LIVE,
                        properties=props,
                        custom_properties={"seed": i % 97, "note": f"artifact {i}"},
                    )
                )
            store.put_artifacts(batch)
        run = store.put_context_type(ContextType(name="Run"))
        (context_id,) = store.put_contexts([Context(type_id=run, name="run-1")])
        members = [
            mltrail.Attribution(artifact_id=i, context_id=context_id)
            for i in range(1, count + 1, 100)
        ]
        store.put_attributions_and_associations(members, [])
        return context_id
    finally:
        store.close()


def render(template: str, model: dict[str, Any]) -> str:
    """The page as the server renders it (the context Pages.render gives a template)."""
    context = {
        "project": "default",
        "prefix": {"ui": "/ui", "api": "/api/v1", "static": "/ui/static"},
        "auth": False,
        "signed_in": False,
        "query": {},
        "model": model,
    }
    return environment().get_template(template).render(context)


def params(**given: Any) -> dict[str, Any]:
    """Query parameters as a page builder gets them (``_multi``: the repeated ones)."""
    multi = {k: v if isinstance(v, list) else [v] for k, v in given.items()}
    return {**{k: v[-1] if isinstance(v, list) else v for k, v in given.items()}, "_multi": multi}


def deep_token(store: mltrail.MetadataStore, fraction: float) -> tuple[str, int]:
    """The page token after row ``fraction`` of the artifacts (id order, newest first), walked
    page by page as the Next links do; and that row's position."""
    total = store.count_artifacts()
    wanted = int(total * fraction)
    token, seen = None, 0
    while seen + WALK_LIMIT <= wanted:
        page = store.get_artifacts(
            order_by="id", ascending=False, limit=WALK_LIMIT, page_token=token
        )
        token, seen = page.next_page_token, seen + len(page)
        if token is None:
            break
    if token is None:
        raise SystemExit("the store is too small for a deep page; give a larger --count")
    return token, seen


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def measure(
    label: str, build: Callable[[], dict[str, Any]], template: str, rounds: int, check: Callable
) -> dict[str, Any]:
    builds, renders, totals = [], [], []
    model: dict[str, Any] = {}
    html = ""
    for _ in range(rounds):
        t0 = time.perf_counter()
        model = build()
        t1 = time.perf_counter()
        html = render(template, model)
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        renders.append(t2 - t1)
        totals.append(t2 - t0)
    check(model, html)
    return {
        "page": label,
        "build": median_ms(builds),
        "render": median_ms(renders),
        "total": median_ms(totals),
        "bytes": len(html.encode()),
    }


def table_check(rows: int, invalid: bool = False) -> Callable[[dict[str, Any], str], None]:
    def check(model: dict[str, Any], html: str) -> None:
        if model.get("invalid") is not None:
            raise SystemExit(f"the page answered an error: {model['invalid']}")
        if len(model["rows"]) != rows:
            raise SystemExit(f"expected {rows} rows, the page has {len(model['rows'])}")
        for row in model["rows"]:
            if f'href="/ui/{model["kind"]}/{row["id"]}"' not in html:
                raise SystemExit(f"row {row['id']} is not on the rendered page")

    return check


def node_check(model: dict[str, Any], html: str) -> None:
    if f"{model['kind'].capitalize()} {model['node']['id']}" not in html:
        raise SystemExit("the node page does not show its node")


class LiveServer:
    """``mltrail serve`` on the store, on a free port, stopped by :meth:`close`."""

    def __init__(self, store: Path, home: Path) -> None:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "mltrail", "serve", f"sqlite:///{store}"]
        command += ["--port", str(self.port), "--home", str(home)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("mltrail serve exited at start")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.close()
        raise SystemExit("mltrail serve did not start within 60 s")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def live_times(server: LiveServer, paths: Mapping[str, str], rounds: int) -> dict[str, float]:
    import httpx

    out = {}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for label, path in paths.items():
            client.get(path).raise_for_status()  # warm
            samples = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                answer = client.get(path)
                samples.append(time.perf_counter() - t0)
                answer.raise_for_status()
            out[label] = median_ms(samples)
    return out


def run(args: argparse.Namespace, folder: Path) -> int:
    path = folder / "ui.db"
    started = time.perf_counter()
    context_id = load(path, args.count)
    print(f"store: {args.count:,} artifacts in {time.perf_counter() - started:.1f} s ({path.name})")
    store = mltrail.connect(f"sqlite:///{path}")
    try:
        token, position = deep_token(store, 0.9)
        limit = tables.DEFAULT_LIMIT
        accurate = "properties.accuracy > 0.9"
        model_count = store.count_artifacts("type = 'Model'")
        filtered_count = min(limit, store.count_artifacts(accurate))
        report_count = min(limit, store.count_artifacts("type = 'Report'"))
        middle = store.count_artifacts() // 2
        members = store.count_artifacts(f"contexts_c.id = {context_id}")
        cases: list[tuple[str, Callable[[], dict[str, Any]], str, Callable, str]] = [
            (
                "first page",
                lambda: tables.table(tables.ARTIFACTS, store, params()),
                "table.html",
                table_check(limit),
                "/ui/artifacts",
            ),
            (
                f"deep page (after row {position:,})",
                lambda: tables.table(tables.ARTIFACTS, store, params(page_token=token)),
                "table.html",
                table_check(limit),
                f"/ui/artifacts?page_token={token}",
            ),
            (
                f"filtered: {accurate}",
                lambda: tables.table(tables.ARTIFACTS, store, params(filter=accurate)),
                "table.html",
                table_check(filtered_count),
                f"/ui/artifacts?filter={accurate.replace(' ', '+').replace('>', '%3E')}",
            ),
            (
                f"one type: Model ({model_count:,})",
                lambda: tables.table(tables.ARTIFACTS, store, params(type="Model")),
                "table.html",
                table_check(limit),
                "/ui/artifacts?type=Model",
            ),
            (
                "one rare type: Report",
                lambda: tables.table(tables.ARTIFACTS, store, params(type="Report")),
                "table.html",
                table_check(report_count),
                "/ui/artifacts?type=Report",
            ),
            (
                "create-time order",
                lambda: tables.table(tables.ARTIFACTS, store, params(order="create_time")),
                "table.html",
                table_check(limit),
                "/ui/artifacts?order=create_time&desc=1",
            ),
            (
                "artifact page",
                lambda: nodes.artifact(store, {"id": str(middle)}),
                "artifact.html",
                node_check,
                f"/ui/artifacts/{middle}",
            ),
            (
                f"context page ({members:,} members)",
                lambda: nodes.context(store, {"id": str(context_id)}),
                "context.html",
                node_check,
                f"/ui/contexts/{context_id}",
            ),
        ]
        results = [
            measure(label, build, tpl, args.rounds, check) for label, build, tpl, check, _ in cases
        ]
    finally:
        store.close()
    live: dict[str, float] = {}
    if args.live:
        server = LiveServer(path, folder / "home")
        try:
            live = live_times(server, {label: url for label, _, _, _, url in cases}, args.rounds)
        finally:
            server.close()
    width = max(len(r["page"]) for r in results)
    header = f"{'page':<{width}}  {'store':>8}  {'render':>8}  {'total':>8}  {'bytes':>8}"
    if live:
        header += f"  {'http':>8}"
    busy = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nmedians of {args.rounds} rounds, ms (target: table pages <= {TARGET_MS:.0f} ms)")
    print(f"load average at the end: {busy}")
    print(header)
    slow = []
    for row, (label, _, tpl, _, _) in zip(results, cases):
        line = (
            f"{row['page']:<{width}}  {row['build']:8.1f}  {row['render']:8.1f}  "
            f"{row['total']:8.1f}  {row['bytes']:8,}"
        )
        if live:
            line += f"  {live[label]:8.1f}"
        print(line)
        if row["total"] > TARGET_MS and tpl == "table.html":
            slow.append(row["page"])
    if slow:
        print(f"\nover the target: {', '.join(slow)}")
    return 1 if slow and args.strict else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="artifacts in the store")
    parser.add_argument("--rounds", type=int, default=15, help="calls per page (median)")
    parser.add_argument("--live", action="store_true", help="also through mltrail serve")
    parser.add_argument("--tmp", help="a scratch directory (removed afterwards)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when over the target")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mltrail-ui-", dir=args.tmp))
    try:
        return run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"\ncommand: python benchmarks/ui.py {' '.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
