"""The lineage, compare and metric pages over HTTP: their JSON twins, their HTML without
JavaScript, and the errors of bad requests. The toy pipeline of ``seeded``: artifacts 1
(environment), 2 raw.csv, 3 train.csv, then per train run (executions 2 and 3) a model, a
Metrics and a StepMetrics artifact (4-6 and 7-9); execution 1 is prepare; contexts 1 (the
pipeline) and 2, 3 (its stages)."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

import mltrail
from _remote import RemoteServer


def twin(client: httpx.Client, path: str) -> dict:  # type: ignore[type-arg]
    answer = client.get(f"/api/v1/ui{path}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def scripts_are_files_or_data(html: str) -> None:
    """Every script element loads a file or carries JSON: nothing inline runs."""
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", html) and " style=" not in html


def test_lineage_around_an_artifact(client: httpx.Client) -> None:
    model = twin(client, "/lineage/artifact/3?depth=1")
    assert model["start"] == {"kind": "artifact", "id": 3, "type": "Dataset", "label": "train.csv"}
    assert model["focus"] == "a3"
    assert {n["key"] for n in model["nodes"]} == {"a3", "x1", "x2", "x3"}
    assert {(e["source"], e["target"]) for e in model["edges"]} == {
        ("x1", "a3"),
        ("a3", "x2"),
        ("a3", "x3"),
    }
    assert model["options"] == {
        "direction": "both",
        "depth": 1,
        "collapse": 3,
        "limit": 2000,
        "layout": "auto",
    }
    up = twin(client, "/lineage/artifact/3?direction=upstream&depth=all")
    assert {n["label"] for n in up["nodes"]} == {
        "train.csv",
        "prepare #1",
        "raw.csv",
        "Environment #1",
    }
    assert up["options"]["depth"] == "all"
    down = twin(client, "/lineage/execution/2?direction=downstream")
    assert {n["type"] for n in down["nodes"]} == {"train", "Model", "Metrics", "StepMetrics"}


def test_a_cut_lineage_says_so(client: httpx.Client) -> None:
    model = twin(client, "/lineage/artifact/3?depth=all&limit=3")
    assert model["truncated"] and len(model["nodes"]) == 3
    html = client.get("/ui/lineage/artifact/3?depth=all&limit=3").text
    assert "cut at 3 nodes" in html


def test_the_dag_of_a_context_folds_repeated_runs(client: httpx.Client) -> None:
    model = twin(client, "/lineage/context/1")
    assert model["start"]["label"] == "toy" and model["focus"] is None
    assert len(model["nodes"]) == 12 and model["groups"] == []  # two runs: under 3
    folded = twin(client, "/lineage/context/1?collapse=2")
    [group] = folded["groups"]
    assert group["label"] == "train \u00d72" and group["executions"] == [2, 3]
    assert group["members"] == ["x2", "x3", "a4", "a5", "a6", "a7", "a8", "a9"]
    assert group["inputs"] == ["a1", "a3"]
    cut = twin(client, "/lineage/context/1?limit=4")  # the three runs first, then artifact 1
    assert cut["truncated"] and {n["key"] for n in cut["nodes"]} == {"x1", "x2", "x3", "a1"}
    assert {(e["source"], e["target"]) for e in cut["edges"]} == {
        ("a1", "x1"),
        ("a1", "x2"),
        ("a1", "x3"),
    }
    stage = twin(client, "/lineage/context/2")  # toy/prepare
    assert {n["key"] for n in stage["nodes"]} == {"x1", "a1", "a2", "a3"}


def test_the_lineage_page_without_javascript(client: httpx.Client) -> None:
    answer = client.get("/ui/lineage/context/1?collapse=2")
    assert answer.status_code == 200
    html = answer.text
    scripts_are_files_or_data(html)
    assert '<script type="application/json" id="graph-model">' in html
    assert '<details id="graph-list" class="graph-list" open>' in html
    rows = re.findall(r"<tr[^>]*><td><a href=\"([^\"]+)\">([^<]+)</a>[ #\d]*</td>(.*?)</tr>", html)
    assert len(rows) == 12
    cells = {label: re.findall(r"<td>(.*?)</td>", rest) for _, label, rest in rows}
    assert ("/ui/artifacts/3", "train.csv") in [(href, label) for href, label, _ in rows]
    # kind, type, state, group, what it read, what it wrote: each edge once, at its execution.
    assert cells["train #2"] == [
        "execution",
        "train",
        "COMPLETE",
        "train ×2",
        "Environment #1; train.csv #3",
        "model-0.1.json #4; metrics (Metrics) #5; loss (StepMetrics) #6",
    ]
    assert cells["train.csv"] == ["artifact", "Dataset", "LIVE", "", "", ""]
    edges = sum(len(c[4].split("; ")) + len(c[5].split("; ")) for c in cells.values() if c[4])
    assert edges == 13
    assert "DAG of context" in html and 'name="direction"' not in html  # no walk options


def test_the_pages_of_another_project(live: RemoteServer, client: httpx.Client) -> None:
    created = client.post("/api/v1/projects", json={"name": "graphs"})
    assert created.status_code in (201, 409)  # 409: made by an earlier run of this module
    store = mltrail.connect(f"{live.url}/p/graphs")
    try:
        store.put_artifact_type(mltrail.ArtifactType(name="Data"))
        store.put_execution_type(mltrail.ExecutionType(name="step"))
        [a] = store.put_artifacts([mltrail.Artifact(type="Data", uri="only.csv")])
        [x] = store.put_executions([mltrail.Execution(type="step")])
        store.put_events([mltrail.Event(artifact_id=a, execution_id=x, type="INPUT")])
    finally:
        store.close()
    html = client.get(f"/p/graphs/ui/lineage/artifact/{a}").text
    assert 'data-api="/p/graphs/api/v1/ui/lineage" data-ui="/p/graphs/ui"' in html
    assert f'href="/p/graphs/ui/executions/{x}"' in html and "only.csv" in html
    model = client.get(f"/p/graphs/api/v1/ui/lineage/execution/{x}").json()
    assert {n["label"] for n in model["nodes"]} == {"only.csv", f"step #{x}"}
    # The default project has an execution x + 1; this one has not.
    assert client.get(f"/ui/compare?id=execution:{x}&id=execution:{x + 1}").status_code == 200
    compared = client.get(f"/p/graphs/ui/compare?id=execution:{x}&id=execution:{x + 1}")
    assert compared.status_code == 404 and f"no execution with id {x + 1}" in compared.text


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/lineage/thing/1", 404, "use artifact, execution or context"),
        ("/lineage/artifact/x", 400, "the artifact id must be a positive whole number"),
        ("/lineage/artifact/999", 404, "no artifact with id 999"),
        ("/lineage/context/999", 404, "no context with id 999"),
        ("/lineage/artifact/3?direction=sideways", 400, "use upstream, downstream or both"),
        ("/lineage/artifact/3?depth=-1", 400, "a whole number from 0 to 10000"),
        ("/lineage/artifact/3?collapse=many", 400, "collapse='many' is not valid"),
        ("/lineage/artifact/3?layout=circle", 400, "use auto, dagre or layers"),
        ("/compare?id=execution:2", 400, "give two or more nodes to compare"),
        ("/compare?id=execution:2&id=artifact:4", 400, "not both at once"),
        ("/compare?id=execution:2&id=context:1", 400, "write artifact:ID or execution:ID"),
        ("/compare?id=execution:2&id=execution:2", 400, "an id was given twice"),
        ("/compare?id=execution:2&id=execution:99", 404, "no execution with id 99 to compare"),
        ("/executions/99/metrics", 404, "no execution with id 99"),
    ],
)
def test_bad_requests(client: httpx.Client, path: str, status: int, message: str) -> None:
    answer = client.get(f"/api/v1/ui{path}")
    assert answer.status_code == status and message in answer.json()["message"]
    page = client.get(f"/ui{path}")
    assert page.status_code == status and page.headers["content-type"].startswith("text/html")
    assert message in unescape(page.text) and 'role="alert"' in page.text


def test_two_runs_side_by_side(client: httpx.Client) -> None:
    model = twin(client, "/compare?id=execution:2&id=execution:3")
    assert [c["label"] for c in model["columns"]] == ["train #2", "train #3"]
    rows = {(s["title"], r["field"]): r for s in model["sections"] for r in s["rows"]}
    assert (
        rows[("Parameters", "lr")]["values"] == [0.1, 0.2] and rows[("Parameters", "lr")]["differs"]
    )
    assert not rows[("Parameters", "epochs")]["differs"]
    assert not rows[("Inputs", "data/train.csv")]["differs"]
    assert rows[("Outputs", "model-0.1.json, model-0.2.json")]["differs"]
    assert rows[("Metrics", "metrics.accuracy")]["values"] == [0.55, 0.6]
    [chart] = model["charts"]
    assert chart["title"] == "loss"
    assert [line["values"] for line in chart["lines"]] == [
        [0.9091, 0.4762, 0.3226],
        [0.8333, 0.4545, 0.3125],
    ]
    html = client.get("/ui/compare?id=execution:2&id=execution:3").text
    scripts_are_files_or_data(html)
    lr = re.search(r'<tr class="differs">\s*<th scope="row">(.*?)</th>\s*<td>0.1</td>', html, re.S)
    assert lr and "≠" in lr.group(1) and "differs: </span>lr" in lr.group(1)
    epochs = re.search(r"<tr>\s*<th scope=\"row\">epochs</th>", html)
    assert epochs  # an equal row: no class, no marker
    assert f"{model['differences']} rows differ" in html
    assert '<div class="chart-area" data-chart="0">' in html


def test_artifacts_side_by_side(client: httpx.Client) -> None:
    model = twin(client, "/compare?id=artifact:6&id=artifact:9&id=artifact:4")
    assert [c["id"] for c in model["columns"]] == [6, 9, 4]  # in the order asked
    rows = {(s["title"], r["field"]): r for s in model["sections"] for r in s["rows"]}
    assert rows[("Fields", "type")]["values"] == ["StepMetrics", "StepMetrics", "Model"]
    assert rows[("Properties", "framework")]["values"] == [None, None, "toy"]
    [chart] = model["charts"]
    assert len(chart["lines"]) == 2  # the model has no series
    html = client.get("/ui/compare?id=artifact:6&id=artifact:9&id=artifact:4").text
    assert "3 artifacts side by side" in html and '<span class="none">—</span>' in html


def test_metric_plots_of_a_run(client: httpx.Client) -> None:
    model = twin(client, "/executions/2/metrics")
    assert model["execution"]["label"] == "train #2"
    [series] = model["series"]
    assert series["name"] == "loss" and series["artifacts"] == [6]
    assert series["summary"] == [
        {
            "key": "loss",
            "count": 3,
            "gaps": 0,
            "last_step": 2,
            "last": 0.3226,
            "min": 0.3226,
            "max": 0.9091,
        }
    ]
    assert model["charts"] == [
        {
            "title": "loss",
            "lines": [{"label": "loss", "steps": [0, 1, 2], "values": [0.9091, 0.4762, 0.3226]}],
        }
    ]
    assert model["metrics"] == [
        {"name": "metrics", "artifact": 5, "values": {"accuracy": 0.55, "n_weights": 2}}
    ]
    html = client.get("/ui/executions/2/metrics").text
    scripts_are_files_or_data(html)
    assert re.search(r'<th scope="row">accuracy</th><td class="number">0.55</td>', html)
    assert "uPlot.iife.min.js" in html and "charts.js" in html
    none = client.get("/ui/executions/1/metrics").text  # prepare wrote no metrics
    assert "wrote no metrics" in none and "charts.js" not in none
