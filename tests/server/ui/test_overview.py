"""The overview: counts by kind and type, pipelines with their stages, the latest executions."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import httpx

import mltrail
from mltrail.server.ui import views


def test_the_overview_of_the_toy_pipeline(client: httpx.Client) -> None:
    model = client.get("/api/v1/ui/").json()
    assert model["counts"] == {"artifacts": 9, "executions": 3, "contexts": 3}
    by_type = {k: {t["type"]: t["count"] for t in v} for k, v in model["by_type"].items()}
    assert by_type == {
        "artifacts": {"Dataset": 2, "Environment": 1, "Metrics": 2, "Model": 2, "StepMetrics": 2},
        "executions": {"prepare": 1, "train": 2},
        "contexts": {"Pipeline": 1, "Stage": 2},
    }
    (toy,) = model["pipelines"]
    assert (toy["name"], toy["type"]) == ("toy", "Pipeline")
    assert [s["name"] for s in toy["stages"]] == ["toy/prepare", "toy/train"]
    recent = model["recent"]
    assert [(e["id"], e["type"], e["state"]) for e in recent] == [
        (3, "train", "COMPLETE"),
        (2, "train", "COMPLETE"),
        (1, "prepare", "COMPLETE"),
    ]
    assert [e["created"] for e in recent] == sorted((e["created"] for e in recent), reverse=True)

    page = client.get("/ui/").text
    for kind, counts in by_type.items():
        for name, count in counts.items():
            expected = f'<a href="/ui/{kind}?type={name}">{name}</a> <span class="n">{count}</span>'
            assert expected in page
    pipelines = page.split('<section class="pipelines">', 1)[1].split("</section>", 1)[0]
    assert f'<a href="/ui/contexts/{toy["id"]}">toy</a>' in pipelines
    stages = re.findall(r'<li><a href="/ui/contexts/(\d+)">([^<]+)</a></li>', pipelines)
    assert stages == [(str(s["id"]), s["name"]) for s in toy["stages"]]
    table = page.split('<section class="recent">', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'<td class="col-id"><a href="/ui/executions/(\d+)">', table) == [
        "3",
        "2",
        "1",
    ]
    assert table.count("state-complete") == 3


def test_every_link_of_the_overview_answers(client: httpx.Client) -> None:
    page = client.get("/ui/").text
    links = {html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)}
    pages = sorted(h for h in links if h.startswith("/ui/") and not h.startswith("/ui/static/"))
    assert len(pages) > 15
    for url in pages:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert 'class="invalid"' not in answer.text, url
    runs = next(u for u in pages if u.startswith("/ui/executions?filter="))
    assert len(re.findall(r'<td class="col-id">', client.get(runs).text)) == 3


def test_a_project_without_runs(client: httpx.Client) -> None:
    created = client.post("/api/v1/projects", json={"name": "blank"})
    assert created.status_code in (201, 409)
    model = client.get("/p/blank/api/v1/ui/").json()
    assert model["counts"] == {"artifacts": 0, "executions": 0, "contexts": 0}
    assert model["pipelines"] == [] and model["recent"] == []
    page = client.get("/p/blank/ui/").text
    assert "No pipelines yet" in page and "No executions yet" in page
    assert 'href="/p/blank/ui/artifacts"' in page


class Recording:
    """A store whose calls are recorded by name."""

    def __init__(self, store: mltrail.MetadataStore) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.store, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return call


def test_the_overview_is_a_few_calls_whatever_the_pipelines() -> None:
    with mltrail.connect() as store:
        pipeline = store.put_context_type(mltrail.ContextType(name="Pipeline"))
        stage = store.put_context_type(mltrail.ContextType(name="Stage"))
        parents = store.put_contexts(
            [mltrail.Context(type_id=pipeline, name=f"p{i}") for i in range(30)]
        )
        children = store.put_contexts(
            [mltrail.Context(type_id=stage, name=f"p{i}/s{j}") for i in range(30) for j in range(3)]
        )
        store.put_parent_contexts(
            [
                mltrail.ParentContext(child_id=c, parent_id=parents[k // 3])
                for k, c in enumerate(children)
            ]
        )
        recorded = Recording(store)
        model = views.overview(recorded, {})  # type: ignore[arg-type]
    assert len(recorded.calls) == 6, recorded.calls
    assert len(model["pipelines"]) == views.PIPELINES
    newest = model["pipelines"][0]
    assert newest["name"] == "p29" and [s["name"] for s in newest["stages"]] == [
        "p29/s0",
        "p29/s1",
        "p29/s2",
    ]
    assert all(len(p["stages"]) == 3 for p in model["pipelines"])
    assert model["more_pipelines"] is not None and model["counts"]["contexts"] == 120
