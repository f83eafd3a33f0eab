"""The tables: rows, sorting, keyset paging, type facets, the filter box and its errors.

The module's server holds the toy pipeline plus BULK artifacts of two types of its own (more
than a page), and a few whose names, uris and properties are markup and script.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from ui_helpers import Authed

import mltrail
from _remote import RemoteServer
from mltrail.server.ui import _filters

BULK = 137
XSS = '<script>alert("x")</script>'
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
SCRIPT_URI = "javascript:alert(1)"


@pytest.fixture(scope="module", autouse=True)
def store(live: RemoteServer) -> Iterator[mltrail.MetadataStore]:
    """The module server's store, through its API, with the bulk and hostile artifacts added
    (before any test of the module runs: each expects them)."""
    with mltrail.connect(live.url) as remote:
        bulk = remote.put_artifact_type(
            mltrail.ArtifactType(name="Bulk", properties={"n": mltrail.PropertyType.INT})
        )
        other = remote.put_artifact_type(mltrail.ArtifactType(name="Other"))
        remote.put_artifacts(
            [
                mltrail.Artifact(
                    type_id=bulk if i % 3 else other,
                    name=f"bulk-{i:03d}",
                    uri=f"https://example.org/bulk/{i}",
                    properties={"n": i % 10} if i % 3 else {},
                    custom_properties={"tag": "odd" if i % 2 else "even"},
                )
                for i in range(BULK)
            ]
        )
        hostile = remote.put_artifact_type(mltrail.ArtifactType(name=f"Hostile{XSS}"))
        remote.put_artifacts(
            [
                mltrail.Artifact(
                    type_id=hostile,
                    name=XSS,
                    uri=SCRIPT_URI,
                    custom_properties={"payload": ATTRIBUTE, "nested": {"k": [XSS]}},
                ),
                mltrail.Artifact(type_id=hostile, name=ATTRIBUTE, uri=f"data:text/html,{XSS}"),
            ]
        )
        yield remote


def rows(page: str, kind: str = "artifacts") -> list[int]:
    """The node ids of a table page's rows, in order."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    found = []
    for row in body.split("<tr>")[1:]:
        match = re.search(rf'href="/ui/{kind}/(\d+)"', row)
        assert match, row
        found.append(int(match.group(1)))
    return found


def link(page: str, text: str) -> str | None:
    """The href of the link with ``text`` (unescaped), or None."""
    match = re.search(rf'<a (?:rel="next" )?href="([^"]+)"[^>]*>{re.escape(text)}</a>', page)
    return html.unescape(match.group(1)) if match else None


def twin(client: httpx.Client, url: str) -> dict[str, Any]:
    answer = client.get("/api/v1" + url)
    assert answer.status_code == 200, answer.text
    model: dict[str, Any] = answer.json()
    return model


def all_ids(store: mltrail.MetadataStore, query: str | None = None) -> list[int]:
    return [a.id for a in store.iter_artifacts(filter_query=query)]


# ------------------------------------------------------------------------------------------ rows


def test_the_first_page_shows_the_newest_rows_and_its_twin_the_same(
    client: httpx.Client, store: mltrail.MetadataStore
) -> None:
    page = client.get("/ui/artifacts")
    assert page.status_code == 200
    newest = sorted(all_ids(store), reverse=True)[:50]
    assert rows(page.text) == newest
    model = twin(client, "/ui/artifacts")
    assert [r["id"] for r in model["rows"]] == newest
    assert model["matching"] == store.count_artifacts() == len(all_ids(store))
    assert f'<span class="matching">{model["matching"]:,}</span> matching' in page.text
    # Each cell shows the twin's value.
    bulk = next(r for r in model["rows"] if r["name"] == "bulk-100")
    row = page.text.split(f'value="artifact:{bulk["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert f">{bulk['type']}</td>" in row and ">bulk-100</a>" in row
    assert f'href="{bulk["uri"]}"' in row and bulk["uri_link"] == bulk["uri"]
    assert f">{_filters.when(bulk['created'])}</span>" in row


def test_columns_of_executions_and_contexts(client: httpx.Client) -> None:
    executions = client.get("/ui/executions").text
    head = executions.split("<thead>", 1)[1].split("</thead>", 1)[0]
    labels = [re.sub(r"<[^>]+>|[▲▼]", "", h).strip() for h in re.findall(r"<th.*?</th>", head)]
    assert labels == ["compare", "id", "type", "name", "state", "created", "updated"]
    assert rows(executions, "executions") == [3, 2, 1]
    assert executions.count('<span class="state state-complete">COMPLETE</span>') == 3
    contexts = twin(client, "/ui/contexts")
    assert [(r["name"], r["type"]) for r in contexts["rows"]] == [
        ("toy/train", "Stage"),
        ("toy/prepare", "Stage"),
        ("toy", "Pipeline"),
    ]
    assert 'name="id" value="context:' not in client.get("/ui/contexts").text  # no comparing


def test_property_columns_show_values_and_sort(
    client: httpx.Client, store: mltrail.MetadataStore
) -> None:
    url = "/ui/artifacts?type=Bulk&col=properties.n&col=custom_properties.tag&order=properties.n"
    page = client.get(url).text
    assert ">properties.n ▼</a>" in page
    model = twin(client, url)
    values = [r["extra"]["properties.n"] for r in model["rows"]]
    assert values == sorted(values, reverse=True) and values[0] == 9
    first = model["rows"][0]
    cells = page.split(f'value="artifact:{first["id"]}"', 1)[1].split("</tr>", 1)[0]
    assert (
        f'<td class="col-custom_properties.tag">{first["extra"]["custom_properties.tag"]}' in cells
    )


# ---------------------------------------------------------------------------------------- paging


def walk(client: httpx.Client, url: str, kind: str = "artifacts") -> list[list[int]]:
    """The rows of every page from ``url`` on, following the Next links."""
    pages: list[list[int]] = []
    next_url: str | None = url
    while next_url is not None:
        page = client.get(next_url)
        assert page.status_code == 200, page.text
        pages.append(rows(page.text, kind))
        if len(pages) > 1:
            first = link(page.text, "First page")
            assert first is not None and "page_token" not in first
        assert len(pages) < 100, "the pages do not end"
        next_url = link(page.text, "Next page")
    return pages


CHAINS = [
    ({}, {"ascending": False}),
    ({"order": "id", "desc": "0", "limit": "23"}, {"ascending": True}),
    (
        {"filter": "custom_properties.tag = 'odd'", "order": "create_time", "limit": "17"},
        {"filter_query": "custom_properties.tag = 'odd'", "order_by": "create_time"},
    ),
    (
        {"type": "Bulk", "order": "update_time", "desc": "0", "limit": "40"},
        {"filter_query": "type = 'Bulk'", "order_by": "update_time", "ascending": True},
    ),
]


@pytest.mark.parametrize(("params", "listing"), CHAINS)
def test_pages_chain_without_gaps_or_overlaps(
    client: httpx.Client,
    store: mltrail.MetadataStore,
    params: dict[str, str],
    listing: dict[str, Any],
) -> None:
    limit = int(params.get("limit", "50"))
    pages = walk(client, "/ui/artifacts?" + str(httpx.QueryParams(params)))
    assert len(pages) > 1
    assert all(len(p) == limit for p in pages[:-1]) and 0 < len(pages[-1]) <= limit
    seen = [i for p in pages for i in p]
    assert len(seen) == len(set(seen))
    expected = store.get_artifacts(**{"ascending": False, **listing})
    assert seen == [a.id for a in expected]


def test_a_bad_page_token_is_shown_inline(client: httpx.Client) -> None:
    page = client.get("/ui/artifacts?page_token=garbage")
    assert page.status_code == 200
    assert "page_token is not a token this store issued" in page.text
    assert "<tbody>" not in page.text and 'name="filter"' in page.text
    assert twin(client, "/ui/artifacts?page_token=garbage")["invalid"]["error"] == (
        "InvalidArgumentError"
    )


def test_the_limit_is_checked(client: httpx.Client) -> None:
    assert len(twin(client, "/ui/artifacts?limit=500")["rows"]) == BULK + 9 + 2
    assert len(twin(client, "/ui/artifacts?limit=3")["rows"]) == 3
    for bad in ("0", "501", "x", "-1"):
        page = client.get(f"/ui/artifacts?limit={bad}")
        assert page.status_code == 400 and "from 1 to 500" in page.text, bad


# --------------------------------------------------------------------------------------- sorting


def test_sort_links_toggle_the_order(client: httpx.Client, store: mltrail.MetadataStore) -> None:
    page = client.get("/ui/artifacts?limit=5").text
    assert '<th aria-sort="descending"><a href="/ui/artifacts?order=id&amp;desc=0' in page
    ascending = link(page, "id ▼")
    assert ascending is not None and "desc=0" in ascending
    flipped = client.get(ascending).text
    assert rows(flipped) == sorted(all_ids(store))[:5]
    assert link(flipped, "id ▲") is not None and "desc=1" in str(link(flipped, "id ▲"))
    by_update = link(flipped, "updated")
    assert by_update is not None and "order=update_time" in by_update and "desc=1" in by_update
    expected = store.get_artifacts(order_by="update_time", ascending=False, limit=5)
    assert rows(client.get(by_update).text) == [a.id for a in expected]
    assert "type" not in re.findall(r'<th><a href="[^"]*">(\w+)</a></th>', page)  # not sortable


def test_an_order_the_table_cannot_sort_by_is_shown_inline(client: httpx.Client) -> None:
    page = client.get("/ui/artifacts?order=name").text
    assert "order=&#39;name&#39; is not a column the table sorts by" in page


# ---------------------------------------------------------------------------------------- facets


def expected_counts(store: mltrail.MetadataStore, query: str | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for artifact in store.iter_artifacts(filter_query=query):
        counts[str(artifact.type)] = counts.get(str(artifact.type), 0) + 1
    return counts


def facet_counts(page: str) -> dict[str, int]:
    aside = page.split('<aside class="facets"', 1)[1].split("</aside>", 1)[0]
    found = re.findall(r'>([^<]+)</a> <span class="n">([\d,]+)</span>', aside)
    return {html.unescape(name): int(n.replace(",", "")) for name, n in found}


def test_facets_count_each_type_of_the_filtered_nodes(
    client: httpx.Client, store: mltrail.MetadataStore
) -> None:
    page = client.get("/ui/artifacts").text
    expected = expected_counts(store)
    assert expected["Bulk"] == 91 and expected["Other"] == 46
    assert facet_counts(page) == expected
    assert {f["type"]: f["count"] for f in twin(client, "/ui/artifacts")["facets"]} == expected
    query = "custom_properties.tag = 'odd'"
    filtered = client.get("/ui/artifacts", params={"filter": query}).text
    odd = expected_counts(store, query)
    assert facet_counts(filtered) == odd and sum(odd.values()) == 68


def test_a_facet_link_shows_that_type_with_the_filter_kept(
    client: httpx.Client, store: mltrail.MetadataStore
) -> None:
    query = "custom_properties.tag = 'odd' -- a comment to the end of the line"
    page = client.get("/ui/artifacts", params={"filter": query}).text
    other = link(page, "Other")
    assert other is not None and "type=Other" in other
    chosen = client.get(other).text
    model = twin(client, other)
    assert model["type"] == "Other" and model["filter"] == query
    expected = store.get_artifacts(
        filter_query="custom_properties.tag = 'odd' AND type = 'Other'", ascending=False
    )
    assert rows(chosen) == [a.id for a in expected] and len(expected) > 10
    assert re.search(r'class="selected" aria-current="true">Other</a>', chosen)
    assert f'<span class="matching">{len(expected)}</span>' in chosen
    everything = link(chosen, "All types")
    assert everything is not None and "type=" not in everything and "tag" in everything


# ---------------------------------------------------------------------------------------- filter


def test_a_filter_selects_rows(client: httpx.Client, store: mltrail.MetadataStore) -> None:
    query = "type = 'Bulk' AND properties.n >= 8"
    page = client.get("/ui/artifacts", params={"filter": query, "limit": "500"}).text
    expected = [a.id for a in store.get_artifacts(filter_query=query, ascending=False)]
    assert rows(page) == expected and len(expected) > 10
    assert ">type = &#39;Bulk&#39; AND properties.n &gt;= 8</textarea>" in page


def test_a_syntax_error_shows_the_query_with_a_caret(client: httpx.Client) -> None:
    query = "type = 'Bulk' AND\n  properties.n >= ) OR name = 'x'"
    page = client.get("/ui/artifacts", params={"filter": query})
    assert page.status_code == 200
    drawn = page.text.split('<pre class="caret">', 1)[1].split("</pre>", 1)[0]
    lines = html.unescape(drawn).split("\n")
    assert lines[:2] == ["type = 'Bulk' AND", "  properties.n >= ) OR name = 'x'"]
    assert lines[2] == " " * 18 + "^" and lines[1][18] == ")"
    assert "(line 2, column 19)" in page.text and "QuerySyntaxError" in page.text
    assert "<tbody>" not in page.text
    model = twin(client, "/ui/artifacts?" + str(httpx.QueryParams({"filter": query})))
    invalid = model["invalid"]
    assert (invalid["line"], invalid["column"], invalid["query"]) == (2, 19, query)
    assert invalid["drawing"] == "\n".join(lines) and model["rows"] == []


def test_a_fault_in_the_filter_is_reported_in_its_own_text_with_a_type(
    client: httpx.Client,
) -> None:
    model = twin(
        client, "/ui/artifacts?" + str(httpx.QueryParams({"filter": "name =", "type": "Bulk"}))
    )
    assert model["invalid"]["query"] == "name =" and model["invalid"]["column"] == 7


# ----------------------------------------------------------------------------------------- safety


class Markup(HTMLParser):
    """The elements and attributes of a page, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def markup(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Markup()
    parser.feed(page)
    parser.close()
    return parser.tags


def test_hostile_names_uris_and_values_stay_text(client: httpx.Client) -> None:
    hostile = {"type": f"Hostile{XSS}"}
    model = twin(client, "/ui/artifacts?" + str(httpx.QueryParams(hostile)))
    ids = [r["id"] for r in model["rows"]]
    assert len(ids) == 2 and all(r["uri_link"] is None for r in model["rows"])
    pages = [
        client.get("/ui/artifacts", params={"col": "custom_properties.payload"}).text,
        client.get("/ui/artifacts", params=hostile).text,
        client.get("/ui/").text,
        *(client.get(f"/ui/artifacts/{i}").text for i in ids),
    ]
    for page in pages:
        tags = markup(page)
        assert [t for t, _ in tags if t in ("img", "iframe", "object", "embed")] == []
        scripts = [a.get("src") for t, a in tags if t == "script"]
        assert set(scripts) <= {"/ui/static/app.js"}, scripts
        for tag, attrs in tags:
            assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
            if (tag, attrs) == ("link", {"rel": "icon", "href": "data:,"}):
                continue  # the empty icon of every page (no request for a favicon)
            for name in ("href", "src", "action", "formaction"):
                target = (attrs.get(name) or "").strip().lower()
                assert not target.startswith(("javascript:", "data:", "vbscript:")), attrs
        assert "&lt;script&gt;" in page
    # The values are there, as text: in a cell, a title, a heading, a property block.
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages[0]
    assert f'<code class="uri" title="{SCRIPT_URI}">{SCRIPT_URI}</code>' in "".join(pages[3:])
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in "".join(pages[3:])


# ------------------------------------------------------------------------------------------- auth


def test_tables_and_node_pages_need_a_reader_of_the_project(auth_client: Authed) -> None:
    client = auth_client.client
    tables = ("/ui/artifacts", "/ui/executions?filter=id+%3E+0", "/ui/contexts")
    nodes = ("/ui/artifacts/1", "/ui/executions/1", "/ui/contexts/1", "/ui/contexts/424242")
    for url in tables + nodes:
        refused = client.get(url)
        assert refused.status_code == 401 and 'name="token"' in refused.text, url
        assert "<tbody>" not in refused.text and "<dt>" not in refused.text
        assert client.get("/api/v1" + url).json()["error"] == "UnauthenticatedError"
    elsewhere = {"authorization": f"Bearer {auth_client.token('elsewhere')}"}
    assert client.get("/ui/artifacts", headers=elsewhere).status_code == 403
    reader = {"authorization": f"Bearer {auth_client.token()}"}
    allowed = client.get("/ui/artifacts", headers=reader)
    assert allowed.status_code == 200 and len(rows(allowed.text)) == 9
    assert client.get("/ui/contexts/1", headers=reader).status_code == 200
    assert client.get("/ui/contexts/424242", headers=reader).status_code == 404


# ---------------------------------------------------------------------------------------- browser


def test_tables_work_with_javascript_off(
    browser: Any, live: RemoteServer, store: mltrail.MetadataStore
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live.url}/ui/artifacts?limit=20")
        first = [int(x) for x in page.locator("tbody td.col-id a").all_inner_texts()]
        assert len(first) == 20
        page.get_by_role("link", name="Next page").click()
        second = [int(x) for x in page.locator("tbody td.col-id a").all_inner_texts()]
        assert len(second) == 20 and max(second) < min(first)
        page.get_by_role("link", name="First page").click()
        assert [int(x) for x in page.locator("tbody td.col-id a").all_inner_texts()] == first
        page.fill("#filter", "properties.n = 9")
        page.get_by_role("button", name="Apply").click()
        assert "filter=properties.n" in page.url
        shown = [int(x) for x in page.locator("tbody td.col-id a").all_inner_texts()]
        nines = store.get_artifacts(filter_query="properties.n = 9", ascending=False)
        assert shown == [a.id for a in nines] and len(shown) > 5
        page.get_by_role("link", name="Bulk", exact=True).click()
        assert "type=Bulk" in page.url and page.locator("tbody tr").count() == len(shown)
    finally:
        context.close()


def test_the_filter_box_keys(page: Any, live: RemoteServer, store: Any) -> None:
    page.goto(f"{live.url}/ui/artifacts")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "filter"
    page.keyboard.type("type = 'Other'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "filter=type" in page.url
    assert page.locator("tbody tr").count() == 46
    assert page.errors == []
