"""The UI in Chromium: every page drawn without a console error or CSP violation, the lineage
graph expanded by clicks, two runs compared, a metric plot, signing in, and the pages with
JavaScript off. Screenshots of each page go to the ``screenshots`` folder (``docs/ui`` with
``MLTRAIL_SCREENSHOTS=docs/ui``). The store is the toy pipeline (see test_pages_graphs.py)."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from _remote import RemoteServer
from mltrail.server.tokens import Registry
from mltrail.server.ui import HERE

#: The tables and node pages are built in a module of their own (table.html and the node
#: templates); their entries below run once it is there.
TABLES = pytest.mark.skipif(
    not (HERE / "templates" / "table.html").exists(), reason="no tables pages in this tree yet"
)
#: Pages that need nothing but loading: (screenshot name, path, text the page shows).
PAGES = [
    pytest.param("overview", "/ui/", "Project default", id="overview"),
    pytest.param("artifacts", "/ui/artifacts", "model-0.1.json", id="artifacts", marks=TABLES),
    pytest.param("artifact", "/ui/artifacts/3", "data/train.csv", id="artifact", marks=TABLES),
    pytest.param("execution", "/ui/executions/2", "Execution 2", id="execution", marks=TABLES),
    pytest.param("context", "/ui/contexts/1", "Context 1: toy", id="context", marks=TABLES),
]
#: Drawn when the layout ended and a frame followed. (Predicates are functions: a bare
#: expression would be evaluated with eval(), which the CSP forbids.)
DRAWN = "() => window.mltrailTimes && window.mltrailTimes.drawn"


def shoot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"))  # the viewport: 1280 x 860


def graph(page: Any) -> dict[str, Any]:
    """What the cytoscape instance holds now: node ids, labels, zoom, layouts run."""
    return page.evaluate(  # type: ignore[no-any-return]
        """() => {
            const cy = window.mltrailGraph;
            const box = cy.extent();
            const inside = (n) => n.visible()
                && n.position('x') >= box.x1 && n.position('x') <= box.x2
                && n.position('y') >= box.y1 && n.position('y') <= box.y2;
            const each = (f) => Object.fromEntries(cy.nodes().map(n => [n.id(), f(n)]));
            return {
                nodes: cy.nodes().map(n => n.id()),
                labels: each(n => n.data('label')),
                parents: each(n => n.data('parent') || null),
                shown: cy.nodes().filter(inside).map(n => n.id()),
                zoom: cy.zoom(),
                layouts: window.mltrailTimes.layouts,
            };
        }"""
    )


def click_node(page: Any, key: str) -> None:
    box = page.locator("#graph").bounding_box()
    at = page.evaluate("k => window.mltrailGraph.getElementById(k).renderedPosition()", key)
    page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])


@pytest.mark.parametrize(("name", "path", "text"), PAGES)
def test_every_page_draws_cleanly(
    page: Any, live: RemoteServer, screenshots: Path, name: str, path: str, text: str
) -> None:
    page.goto(live.url + path)  # waits for the load event: these pages fetch nothing later
    assert page.get_by_text(text).first.is_visible()
    assert page.errors == []
    shoot(page, screenshots, name)


@TABLES
@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("type = 'Model'", "model-0.2.json", "raw.csv"),
        ("uri LIKE 'data/%'", "raw.csv", "model-0.1.json"),
    ],
)
def test_the_filter_box(page: Any, live: RemoteServer, query: str, shown: str, hidden: str) -> None:
    page.goto(f"{live.url}/ui/artifacts")
    page.fill("#filter", query)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    table = page.locator("main table").first
    assert table.get_by_text(shown).first.is_visible() and table.get_by_text(hidden).count() == 0
    assert page.locator("#filter").input_value() == query  # kept in the box
    assert page.errors == []


@TABLES
def test_the_filter_box_shows_a_bad_query_with_a_caret(page: Any, live: RemoteServer) -> None:
    page.goto(f"{live.url}/ui/artifacts")
    page.fill("#filter", "name =")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert alert.is_visible() and "^" in alert.locator("pre.caret").inner_text()
    assert page.errors == []


def test_a_lineage_graph_grows_when_a_node_is_clicked(
    page: Any, live: RemoteServer, screenshots: Path
) -> None:
    page.goto(f"{live.url}/ui/lineage/artifact/3?depth=1")
    page.wait_for_function(DRAWN)
    before = graph(page)
    assert sorted(before["nodes"]) == ["a3", "x1", "x2", "x3"]
    assert set(before["shown"]) == set(before["nodes"])  # fitted into the frame
    assert not page.locator("#graph-list").get_attribute("open")  # the list folds away
    click_node(page, "x2")
    page.wait_for_function("() => window.mltrailGraph.nodes().length > 4")
    page.wait_for_function("() => window.mltrailTimes.layouts >= 2")
    after = graph(page)
    assert set(after["nodes"]) == {"a1", "a3", "a4", "a5", "a6", "x1", "x2", "x3"}
    assert after["labels"]["a4"] == "model-0.1.json"
    assert "a4" in after["shown"] and after["zoom"] * 11 >= 7  # drawn with its label
    panel = page.locator("#graph-panel")
    assert panel.locator("h2").inner_text() == "train #2"
    assert panel.get_by_role("link", name="Open the execution page").get_attribute("href") == (
        "/ui/executions/2"
    )
    assert "Added 4 nodes and 4 edges." in panel.inner_text()
    shoot(page, screenshots, "lineage")
    click_node(page, "x2")  # a second click shows it again but fetches nothing more
    page.wait_for_timeout(300)
    assert len(graph(page)["nodes"]) == 8 and graph(page)["layouts"] == 2
    assert page.errors == []


def test_a_group_of_repeated_runs_opens_on_click(page: Any, live: RemoteServer) -> None:
    page.goto(f"{live.url}/ui/lineage/context/1?collapse=2")
    page.wait_for_function(DRAWN)
    folded = graph(page)
    assert folded["labels"]["g0"] == "train \u00d72"
    assert "x2" not in folded["nodes"] and len(folded["nodes"]) == 5
    click_node(page, "g0")
    page.wait_for_function("() => window.mltrailTimes.layouts >= 2")
    opened = graph(page)
    assert {"x2", "x3", "a4", "a9"} <= set(opened["nodes"])
    assert opened["parents"]["x2"] == "g0" and opened["parents"]["a3"] is None
    panel = page.locator("#graph-panel")
    compare = panel.get_by_role("link", name="Compare these runs").get_attribute("href")
    assert compare == "/ui/compare?id=execution%3A2&id=execution%3A3"
    panel.get_by_role("button", name="Close the group").click()
    page.wait_for_function("() => window.mltrailTimes.layouts >= 3")
    assert len(graph(page)["nodes"]) == 5
    assert page.errors == []


def test_the_layers_layout_of_large_graphs(page: Any, live: RemoteServer) -> None:
    # Large graphs get it by themselves (auto, above 300 nodes); layout=layers asks for it.
    page.goto(f"{live.url}/ui/lineage/artifact/3?depth=2&layout=layers&collapse=0")
    page.wait_for_function(DRAWN)
    at = page.evaluate(
        "() => Object.fromEntries(window.mltrailGraph.nodes().map(n => [n.id(), n.position()]))"
    )
    x = {key: round(place["x"]) for key, place in at.items()}
    # Layers by longest path from the sources, left to right; a source just before its reader.
    assert x["a2"] == x["a1"] < x["x1"] < x["a3"] < x["x2"] == x["x3"] < x["a4"] == x["a9"]
    column = sorted(at[k]["y"] for k in ("a4", "a5", "a6", "a7", "a8", "a9"))
    assert min(b - a for a, b in pairwise(column)) >= 46  # no two nodes on one another
    assert set(graph(page)["shown"]) == set(at)
    assert page.errors == []


def test_two_runs_compared(page: Any, live: RemoteServer, screenshots: Path) -> None:
    page.goto(f"{live.url}/ui/compare?id=execution:2&id=execution:3")
    page.wait_for_function("() => window.mltrailCharts && window.mltrailCharts.length === 1")
    differing = page.locator("tr.differs th")
    names = [
        t.replace("≠", "").replace("differs:", "").strip() for t in differing.all_inner_texts()
    ]
    assert "lr" in names and "metrics.accuracy" in names and "epochs" not in names
    lr = page.locator("tr.differs", has_text="lr").first
    assert lr.locator(".marker").inner_text().strip() == "≠"
    assert lr.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor") == (
        "rgb(255, 244, 194)"
    )
    same = page.locator("tr:not(.differs) th", has_text="epochs")
    assert same.count() == 1 and same.locator(".marker").count() == 0
    assert page.locator(".chart-area canvas").count() >= 1
    assert page.evaluate("window.mltrailCharts[0].series.length") == 3  # steps + two runs
    assert page.evaluate("window.mltrailCharts[0].series.map(s => s.label)")[1:] == [
        "train #2",
        "train #3",
    ]
    assert page.errors == []
    shoot(page, screenshots, "compare")


def test_a_metric_plot(page: Any, live: RemoteServer, screenshots: Path) -> None:
    page.goto(f"{live.url}/ui/executions/2/metrics")
    page.wait_for_function("() => window.mltrailCharts && window.mltrailCharts.length === 1")
    plot = page.evaluate(
        "() => { const u = window.mltrailCharts[0]; return {n: u.series.length, data: u.data}; }"
    )
    assert plot == {"n": 2, "data": [[0, 1, 2], [0.9091, 0.4762, 0.3226]]}
    assert page.locator("figure.chart canvas").count() >= 1
    assert page.get_by_role("row", name="accuracy").inner_text().split() == [
        "metrics",
        "accuracy",
        "0.55",
    ]
    assert page.errors == []
    shoot(page, screenshots, "metrics")


def test_signing_in_with_a_token(
    page: Any, auth_live: tuple[RemoteServer, Registry], screenshots: Path
) -> None:
    server, registry = auth_live
    page.goto(f"{server.url}/ui/lineage/artifact/3?depth=1")
    assert page.get_by_role("heading", name="Sign in to default").is_visible()
    assert page.locator("#graph").count() == 0  # nothing of the store is shown
    shoot(page, screenshots, "signin")
    page.fill("#token", "mlt_not_a_token")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").is_visible()
    page.fill("#token", registry.create("default", "reader", "browser test")[0])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/ui/lineage/artifact/3?depth=1")  # back where it asked
    page.wait_for_function(DRAWN)
    click_node(page, "x3")  # the graph's own requests carry the sign-in cookie
    page.wait_for_function("() => window.mltrailGraph.nodes().length > 4")
    assert "a7" in graph(page)["nodes"]
    refusals = [e for e in page.errors if "status of 401" in e]
    assert refusals and [e for e in page.errors if e not in refusals] == []


def test_pages_read_without_javascript(browser: Any, live: RemoteServer) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 860}
    )
    try:
        page = context.new_page()
        page.goto(f"{live.url}/ui/lineage/artifact/3?depth=1")
        listed = page.locator("#graph-list")
        assert listed.get_attribute("open") is not None and listed.is_visible()
        assert page.locator("table.nodes tbody tr").count() == 4
        read = page.get_by_role("row", name="train #2").locator("td").nth(5).inner_text()
        assert read == "train.csv #3"
        assert page.get_by_role("link", name="train.csv").first.is_visible()
        page.goto(f"{live.url}/ui/compare?id=execution:2&id=execution:3")
        lr = page.locator("tr.differs", has_text="lr").first
        assert lr.is_visible() and "≠" in lr.inner_text()
        page.goto(f"{live.url}/ui/executions/2/metrics")
        assert page.get_by_role("row", name="loss").first.is_visible()
    finally:
        context.close()
