"""The pages of one artifact, execution or context, over the toy pipeline (and, for nodes with
more neighbours than a page lists, a few nodes added to the module's server)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx
import markupsafe
import pytest

import mltrail
from _remote import RemoteServer
from mltrail.data import Oid
from mltrail.server.ui import _filters, nodes


def twin(client: httpx.Client, url: str) -> dict[str, Any]:
    answer = client.get("/api/v1" + url)
    assert answer.status_code == 200, answer.text
    model: dict[str, Any] = answer.json()
    return model


def section(page: str, heading: str) -> str:
    """The HTML after ``<h2>heading`` up to the next heading."""
    rest = page.split(f"<h2>{heading}", 1)[1]
    return re.split(r"<h2>|</main>", rest, maxsplit=1)[0]


def linked_ids(fragment: str, kind: str) -> list[int]:
    """The ids in the id column of the node tables of ``fragment``."""
    pattern = rf'<td class="col-id"><a href="/ui/{kind}/(\d+)">'
    return [int(i) for i in re.findall(pattern, fragment)]


def by_uri(client: httpx.Client, uri: str) -> dict[str, Any]:
    model = twin(client, "/ui/artifacts?" + str(httpx.QueryParams({"filter": f"uri = '{uri}'"})))
    (row,) = model["rows"]
    return row


# -------------------------------------------------------------------------------------- artifacts


def test_a_model_artifact_page(client: httpx.Client) -> None:
    row = by_uri(client, "model-0.1.json")
    url = f"/ui/artifacts/{row['id']}"
    page = client.get(url)
    assert page.status_code == 200
    model = twin(client, url)
    node = model["node"]
    assert (node["type"], node["uri"], node["state"]) == ("Model", "model-0.1.json", "LIVE")
    text = page.text
    assert f"<h1>Artifact {node['id']}</h1>" in text
    assert f"<dt>external id</dt><dd><code>{node['external_id']}</code></dd>" in text
    assert f"<dt>created</dt><dd>{_filters.when(node['created'])}</dd>" in text
    # Properties: scalars inline, lists as indented JSON in a block.
    props = {p["name"]: p for p in model["properties"]}
    assert props["framework"]["value"] == "toy" and props["framework"]["block"] is False
    assert "<dt>framework</dt>\n<dd>toy</dd>" in text
    assert props["paths"]["block"] is True
    assert "<dd><pre>[\n  &#34;model-0.1.json&#34;\n]</pre></dd>" in text
    # Where its bytes are.
    digest = node["external_id"]
    assert model["storage"] == {
        "uri": "model-0.1.json",
        "uri_link": None,
        "digest": digest,
        "object_path": Oid.parse(digest).path,
    }
    assert model["storage"]["object_path"] == f"files/sha256/{digest[7:9]}/{digest[9:]}"
    assert f"<code>{model['storage']['object_path']}</code>" in text
    # Produced by one train run; consumed by none.
    (producer,) = model["producers"]
    assert (producer["event_type"], producer["path"]) == ("OUTPUT", ["model-0.1.json"])
    assert producer["node"]["type"] == "train" and model["consumers"] == []
    produced = section(text, "Produced by")
    assert linked_ids(produced, "executions") == [producer["node"]["id"]]
    assert "<td><code>OUTPUT</code></td>" in produced and "<td>model-0.1.json</td>" in produced
    assert '<p class="muted">None.</p>' in section(text, "Consumed by")
    # Its contexts, and the links to the other pages.
    assert sorted(c["name"] for c in model["contexts"]) == ["toy", "toy/train"]
    assert linked_ids(section(text, "Contexts"), "contexts") == [c["id"] for c in model["contexts"]]
    assert f'href="/ui/lineage/artifact/{node["id"]}"' in text
    assert f'<input type="hidden" name="id" value="artifact:{node["id"]}">' in text
    assert '<form class="compare" method="get" action="/ui/compare">' in text


def test_a_dataset_read_by_two_runs(client: httpx.Client) -> None:
    row = by_uri(client, "data/train.csv")
    model = twin(client, f"/ui/artifacts/{row['id']}")
    assert [p["node"]["type"] for p in model["producers"]] == ["prepare"]
    assert [(c["node"]["type"], c["event_type"]) for c in model["consumers"]] == [
        ("train", "INPUT"),
        ("train", "INPUT"),
    ]
    assert model["consumers_total"] == 2 and model["producers_total"] == 1
    page = client.get(f"/ui/artifacts/{row['id']}").text
    assert linked_ids(section(page, "Consumed by"), "executions") == [
        c["node"]["id"] for c in model["consumers"]
    ]
    assert "All 2 consumers" not in page  # every one is listed


def test_long_structured_values_are_readable_blocks(client: httpx.Client) -> None:
    environment = twin(client, "/ui/artifacts?type=Environment")["rows"][0]
    model = twin(client, f"/ui/artifacts/{environment['id']}")
    packages = next(p for p in model["properties"] if p["name"] == "packages")
    assert packages["block"] and packages["text"].count("\n") > 10
    assert json.loads(packages["text"]) == packages["value"]
    page = client.get(f"/ui/artifacts/{environment['id']}").text
    assert f"<dd><pre>{markupsafe.escape(packages['text'])}</pre></dd>" in page


def test_values_are_shown_as_text_and_cut_when_huge() -> None:
    assert nodes._shown(0.5) == {"text": "0.5", "block": False}
    assert nodes._shown(True) == {"text": "true", "block": False}
    assert nodes._shown("two\nlines") == {"text": "two\nlines", "block": True}
    assert nodes._shown("x" * 81)["block"] and not nodes._shown("x" * 80)["block"]
    huge = nodes._shown(list(range(10_000)))
    assert huge["block"] and len(huge["text"]) < nodes.VALUE_LIMIT + 100
    assert huge["text"].endswith("more characters (the page's JSON has all)")


# ------------------------------------------------------------------------------------- executions


def test_an_execution_page(client: httpx.Client) -> None:
    runs = twin(client, "/ui/executions?type=train&order=id&desc=0")["rows"]
    first = runs[0]["id"]
    model = twin(client, f"/ui/executions/{first}")
    assert model["node"]["state"] == "COMPLETE" and model["node"]["type"] == "train"
    custom = {p["name"]: p["value"] for p in model["custom_properties"]}
    assert custom["lr"] == 0.1 and custom["epochs"] == 3
    assert [(i["node"]["type"], i["path_text"]) for i in model["inputs"]] == [
        ("Environment", "environment"),
        ("Dataset", "data/train.csv"),
    ]
    assert [(o["node"]["type"], o["path_text"]) for o in model["outputs"]] == [
        ("Model", "model-0.1.json"),
        ("Metrics", "metrics"),
        ("StepMetrics", "loss"),
    ]
    page = client.get(f"/ui/executions/{first}").text
    assert linked_ids(section(page, "Inputs"), "artifacts") == [
        i["node"]["id"] for i in model["inputs"]
    ]
    assert linked_ids(section(page, "Outputs"), "artifacts") == [
        o["node"]["id"] for o in model["outputs"]
    ]
    assert "<td>data/train.csv</td>" in section(page, "Inputs")
    assert "<dt>lr</dt>\n<dd>0.1</dd>" in page
    assert f'href="/ui/lineage/execution/{first}"' in page
    assert f'href="/ui/executions/{first}/metrics"' in page
    assert f'value="execution:{first}"' in page
    assert sorted(c["name"] for c in model["contexts"]) == ["toy", "toy/train"]


# --------------------------------------------------------------------------------------- contexts


def test_a_pipeline_context_page(client: httpx.Client) -> None:
    (toy,) = twin(client, "/ui/contexts?type=Pipeline")["rows"]
    model = twin(client, f"/ui/contexts/{toy['id']}")
    assert model["parents"] == []
    assert [c["name"] for c in model["children"]] == ["toy/prepare", "toy/train"]
    executions, artifacts = model["executions"], model["artifacts"]
    assert executions["total"] == 3 and len(executions["rows"]) == 3
    assert [r["id"] for r in executions["rows"]] == [3, 2, 1]  # newest first
    assert {t["type"]: t["count"] for t in executions["by_type"]} == {"prepare": 1, "train": 2}
    assert artifacts["total"] == 9
    assert {t["type"]: t["count"] for t in artifacts["by_type"]} == {
        "Dataset": 2,
        "Environment": 1,
        "Metrics": 2,
        "Model": 2,
        "StepMetrics": 2,
    }
    page = client.get(f"/ui/contexts/{toy['id']}").text
    assert linked_ids(section(page, "Children"), "contexts") == [c["id"] for c in model["children"]]
    assert linked_ids(section(page, "Executions"), "executions") == [3, 2, 1]
    train = next(t for t in executions["by_type"] if t["type"] == "train")
    assert f'<a href="/ui{html.escape(train["link"])}">train</a> <span class="n">2</span>' in page
    # The member link leads to the table of exactly those members.
    table = twin(client, "/ui" + train["link"])
    assert sorted(r["id"] for r in table["rows"]) == [2, 3]
    assert f'href="/ui/lineage/context/{toy["id"]}"' in page


def test_a_stage_page_names_its_parent(client: httpx.Client) -> None:
    stage = next(
        r for r in twin(client, "/ui/contexts?type=Stage")["rows"] if r["name"] == "toy/train"
    )
    model = twin(client, f"/ui/contexts/{stage['id']}")
    assert [p["name"] for p in model["parents"]] == ["toy"] and model["children"] == []
    assert model["executions"]["total"] == 2
    page = client.get(f"/ui/contexts/{stage['id']}").text
    crumbs = page.split('<nav class="crumbs">', 1)[1].split("</nav>", 1)[0]
    assert crumbs == (
        '<a href="/ui/contexts">Contexts</a> · <a href="/ui/contexts?type=Stage">Stage</a>'
    )


# ------------------------------------------------------------------------- many neighbours, errors


@pytest.fixture(scope="module", autouse=True)
def crowded(live: RemoteServer) -> dict[str, int]:
    """An artifact read by more executions than a page lists, and an execution reading more
    artifacts than that (neither in the toy pipeline's contexts); made before any test of the
    module runs, so that every test sees the same store."""
    extra = nodes.SHOWN + 7
    with mltrail.connect(live.url) as store:
        probe = store.put_execution_type(mltrail.ExecutionType(name="Probe"))
        blob = store.put_artifact_type(mltrail.ArtifactType(name="Blob"))
        (shared,) = store.put_artifacts([mltrail.Artifact(type_id=blob, uri="/shared")])
        runs = store.put_executions([mltrail.Execution(type_id=probe) for _ in range(extra)])
        reads = store.put_artifacts([mltrail.Artifact(type_id=blob) for _ in range(extra)])
        inputs = mltrail.EventType.INPUT
        store.put_events(
            [mltrail.Event(artifact_id=shared, execution_id=r, type=inputs) for r in runs]
            + [mltrail.Event(artifact_id=a, execution_id=runs[0], type=inputs) for a in reads]
        )
    return {"artifact": shared, "execution": runs[0], "count": extra}


def test_many_neighbours_are_one_link_away(client: httpx.Client, crowded: dict[str, int]) -> None:
    count = crowded["count"]
    model = twin(client, f"/ui/artifacts/{crowded['artifact']}")
    assert model["consumers_total"] == count and len(model["consumers"]) == nodes.SHOWN
    page = client.get(f"/ui/artifacts/{crowded['artifact']}").text
    found = re.search(rf'<a href="([^"]+)">All {count} consumers</a>', page)
    assert found is not None
    table = twin(client, html.unescape(found.group(1)) + "&limit=500")
    assert len(table["rows"]) == count and table["matching"] == count
    execution = twin(client, f"/ui/executions/{crowded['execution']}")
    assert execution["inputs_total"] == count + 1 and len(execution["inputs"]) == nodes.SHOWN
    inputs = twin(client, "/ui" + execution["links"]["inputs"] + "&limit=500")
    assert len(inputs["rows"]) == count + 1


@pytest.mark.parametrize("kind", ["artifacts", "executions", "contexts"])
def test_an_unknown_node_is_not_found(client: httpx.Client, kind: str) -> None:
    page = client.get(f"/ui/{kind}/424242")
    assert page.status_code == 404
    assert "NotFoundError" in page.text and f"no {kind[:-1]} with id 424242" in page.text
    assert client.get(f"/api/v1/ui/{kind}/424242").json()["error"] == "NotFoundError"
    bad = client.get(f"/ui/{kind}/x1")
    assert bad.status_code == 400 and "ids are whole numbers" in bad.text
