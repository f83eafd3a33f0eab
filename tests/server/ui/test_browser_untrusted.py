"""Stored text is inert in every page: a store whose every field holds markup, script and
``javascript:`` URIs, served by its own server and opened in Chromium. Nothing may run (the
payloads would set ``window.__pwned`` or open a dialog), no ``javascript:`` link or inline
handler may reach the DOM, the CSP must have had nothing to block, and the text must show as
text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

import mltrail
from _remote import RemoteServer
from mltrail import (
    Artifact,
    ArtifactType,
    Association,
    Attribution,
    Context,
    ContextType,
    Event,
    EventType,
    Execution,
    ExecutionType,
    PropertyType,
)
from mltrail.server.ui import HERE

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '"><img src=x onerror="window.__pwned=1;alert(1)">'
SVG = "'><svg onload=alert(1)>"
JS = "javascript:window.__pwned=1"
ALL = f"{SCRIPT} {IMG} {SVG}"

#: Every link or source (href, src, action...) that could run script, and every inline handler
#: and embedding element, in the page's DOM. (Text in other attributes, a title, is inert.)
SCAN = """() => {
    const urls = ["href", "src", "action", "formaction", "xlink:href", "data", "poster",
                  "srcdoc", "background", "ping", "cite"];
    const found = [];
    for (const el of document.querySelectorAll("*")) {
        for (const attr of el.attributes) {
            const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, "").toLowerCase();
            if (attr.name.startsWith("on")) found.push(el.tagName + " " + attr.name);
            const scripted = /^(javascript|vbscript):|^data:(text\\/html|[^,;]*xml|[^,;]*script)/;
            if (urls.includes(attr.name) && scripted.test(value))
                found.push(el.tagName + " " + attr.name + "=" + attr.value);
        }
    }
    for (const tag of ["img", "svg", "iframe", "object", "embed", "base"])
        found.push(...Array.from(document.querySelectorAll(tag)).map(e => "element " + tag));
    return found;
}"""


def build(path: Path) -> dict[str, int]:
    """The hostile store; the ids of its nodes."""
    store = mltrail.connect(f"sqlite:///{path}")
    S = PropertyType.STRING
    data = store.put_artifact_type(ArtifactType(name=SCRIPT, properties={"note": S, IMG: S}))
    model = store.put_artifact_type(ArtifactType(name=IMG))
    store.put_artifact_type(
        ArtifactType(
            name="StepMetrics", properties={"metrics_name": S, "series": PropertyType.STRUCT}
        )
    )
    store.put_artifact_type(ArtifactType(name="Metrics", properties={"metrics_name": S}))
    step = store.put_execution_type(ExecutionType(name=SVG + SCRIPT, properties={"p": S}))
    group = store.put_context_type(ContextType(name=JS))
    source, other, series, metrics = store.put_artifacts(
        [
            Artifact(
                type_id=data,
                name=ALL,
                uri=JS,
                external_id=JS,
                properties={"note": ALL, IMG: JS},
                custom_properties={SCRIPT: ALL, "uri": JS},
            ),
            Artifact(type_id=model, name=JS, uri=ALL, custom_properties={SVG: JS}),
            Artifact(
                type="StepMetrics",
                properties={
                    "metrics_name": ALL,
                    "series": {"steps": [0, 1, 2], "values": {ALL: [1.0, None, 3.0]}},
                },
            ),
            Artifact(type="Metrics", properties={"metrics_name": ALL}, custom_properties={ALL: JS}),
        ]
    )
    runs = store.put_executions(
        [
            Execution(
                type_id=step,
                name=ALL if i == 0 else None,
                external_id=f"{JS}{i}",
                properties={"p": ALL},
                custom_properties={SCRIPT: JS, f"mltrail.{IMG}": ALL},
            )
            for i in range(3)
        ]
    )
    events = []
    for i, run in enumerate(runs):
        events.append(
            Event(artifact_id=source, execution_id=run, type=EventType.INPUT, path=[SCRIPT, i])
        )
    events += [
        Event(artifact_id=other, execution_id=runs[0], type=EventType.OUTPUT, path=[JS]),
        Event(artifact_id=series, execution_id=runs[0], type=EventType.OUTPUT, path=[IMG]),
        Event(artifact_id=metrics, execution_id=runs[0], type=EventType.OUTPUT, path=[SVG]),
    ]
    store.put_events(events)
    [context] = store.put_contexts([Context(type_id=group, name=ALL, properties={})])
    store.put_attributions_and_associations(
        [Attribution(artifact_id=a, context_id=context) for a in (source, other, series, metrics)],
        [Association(execution_id=run, context_id=context) for run in runs],
    )
    store.close()
    return {
        "source": source,
        "other": other,
        "series": series,
        "run": runs[0],
        "run2": runs[1],
        "context": context,
    }


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RemoteServer, dict[str, int]]]:
    home = tmp_path_factory.mktemp("ui-hostile")
    ids = build(home / "store.db")
    server = RemoteServer(f"sqlite:///{home / 'store.db'}", home)
    yield server, ids
    server.close()


def pages(ids: dict[str, int]) -> list[tuple[str, bool | None]]:
    """Every page to open, and whether it shows stored text (None: it may)."""
    a, b, run, run2, context = ids["source"], ids["other"], ids["run"], ids["run2"], ids["context"]
    found = [
        ("/ui/", None),
        (f"/ui/lineage/artifact/{a}?depth=all", True),
        (f"/ui/lineage/execution/{run}", True),
        (f"/ui/lineage/context/{context}?collapse=2", True),  # a group of two runs
        (f"/ui/compare?id=artifact:{a}&id=artifact:{b}&id=artifact:{ids['series']}", True),
        (f"/ui/compare?id=execution:{run}&id=execution:{run2}", True),
        (f"/ui/executions/{run}/metrics", True),
        # Error pages quoting what was asked:
        (f"/ui/lineage/artifact/{a}?direction={quote(SCRIPT)}", True),
        (f"/ui/compare?id={quote(IMG)}&id={quote(JS)}", True),
    ]
    if (HERE / "templates" / "table.html").exists():  # the tables and node pages
        found += [
            ("/ui/artifacts", True),
            ("/ui/executions", True),
            ("/ui/contexts", True),
            (f"/ui/artifacts?filter={quote(f'name = {SCRIPT!r}')}", None),
            (f"/ui/artifacts/{a}", True),
            (f"/ui/artifacts/{b}", True),
            (f"/ui/executions/{run}", True),
            (f"/ui/contexts/{context}", True),
        ]
    return found


def visit(page: Any) -> None:
    """Click what the page offers to click."""
    if page.locator("#graph").count():
        page.wait_for_function("() => window.mltrailTimes && window.mltrailTimes.drawn")
        # Show every node in the side panel (the group, then each node), adding neighbours.
        for key in page.evaluate("() => window.mltrailGraph.nodes().map(n => n.id())"):
            page.evaluate("k => { window.mltrailGraph.getElementById(k).emit('tap'); }", key)
            page.wait_for_function("() => window.mltrailGraphState.pending === 0")
    elif page.locator("#chart-data").count():
        page.wait_for_function("() => window.mltrailCharts !== undefined")


def test_nothing_stored_runs_in_any_page(
    page: Any, hostile: tuple[RemoteServer, dict[str, int]]
) -> None:
    server, ids = hostile
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for path, shows in pages(ids):
        answer = page.goto(server.url + path)
        visit(page)
        assert dialogs == [], path
        assert page.evaluate("() => window.__pwned") is None, path
        assert page.evaluate(SCAN) == [], path
        # An error page's own status is the one console error allowed (a CSP violation or a
        # failed script would be another).
        refused = f"the server responded with a status of {answer.status} "
        assert [e for e in page.errors if answer.ok or refused not in e] == [], (path, page.errors)
        page.errors.clear()
        if "collapse=2" in path:
            assert page.evaluate("() => window.mltrailGraphState.groups.size") == 1
        text = page.locator("main").inner_text()
        if shows is not None:
            assert ("<script>" in text or "<img src=x" in text) == shows, path  # as text


def test_the_panel_shows_stored_text_as_text(
    page: Any, hostile: tuple[RemoteServer, dict[str, int]]
) -> None:
    server, ids = hostile
    page.goto(f"{server.url}/ui/lineage/artifact/{ids['source']}?collapse=0")
    page.wait_for_function("() => window.mltrailTimes && window.mltrailTimes.drawn")
    assert (
        page.evaluate(
            "k => window.mltrailGraph.getElementById(k).data('label')", f"a{ids['source']}"
        )
        == ALL
    )
    page.evaluate(
        "k => { window.mltrailGraph.getElementById(k).emit('tap'); }", f"a{ids['source']}"
    )
    panel = page.locator("#graph-panel")
    assert panel.locator("h2").inner_text() == ALL
    fields = panel.locator("dd").all_inner_texts()
    assert SCRIPT in fields and JS in fields  # type and uri, as they were stored
    hrefs = panel.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [
        f"/ui/artifacts/{ids['source']}",
        f"/ui/lineage/artifact/{ids['source']}",
    ]


def test_gaps_in_a_series_stay_gaps(
    page: Any, hostile: tuple[RemoteServer, dict[str, int]]
) -> None:
    server, ids = hostile
    page.goto(f"{server.url}/ui/executions/{ids['run']}/metrics")
    page.wait_for_function("() => window.mltrailCharts && window.mltrailCharts.length === 1")
    data = page.evaluate("() => window.mltrailCharts[0].data")
    assert data == [[0, 1, 2], [1.0, None, 3.0]]
    legend = page.evaluate("() => window.mltrailCharts[0].series[1].label")
    assert legend == ALL
    assert page.errors == []
