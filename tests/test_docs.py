"""The documentation is tested: its examples run, its links resolve, the API is documented.

How the examples run (``test_examples_run_twice``): every python block of a file, in order, in a
fresh temporary current directory, twice in a row. The blocks of one file share one namespace
(a later block may use what an earlier one defined, as a reader typing them in would); each of
the two runs starts with a fresh namespace but sees the files and ``.mltrail`` store the first
run left, as a reader running the examples again would. A block fenced as ```` ```python no-run ````
is not run (say why in the text; there should be almost none).

Examples that open server databases (``postgresql://...``, ``mysql://...``) run against the test
servers: ``mltrail.connect`` gets the test database's user, password, host, port and database in
place of the example's, and keeps the example's query options and keywords.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

import mltrail
from _servers import SERVERS, Server, need, need_module
from mltrail.tracking import Tracker

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

#: Packages a page's example may import that only the tests' extras install (ML Metadata:
#: ``make test EXTRAS=dev,postgres,mysql,mlmd``).
OPTIONAL_TEST_MODULES = {"ml_metadata"}

FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the first line of code
    code: str
    runnable: bool

    def compiled(self) -> Any:
        # Padded so that tracebacks give the line in the Markdown file.
        return compile("\n" * (self.line - 1) + self.code, str(self.path), "exec")


def python_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        flags = match.group(1).split()
        unknown = set(flags) - {"no-run"}
        assert not unknown, f"{path.name}: unknown python block flags {sorted(unknown)}"
        line = text.count("\n", 0, match.start(2)) + 1
        blocks.append(Block(path, line, match.group(2), "no-run" not in flags))
    return blocks


def test_readme_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(ROOT / "README.md")
    assert blocks, "README.md has no python example"
    namespace: dict[str, object] = {}
    exec(blocks[0].compiled(), namespace)
    store = namespace["store"]
    assert isinstance(store, mltrail.MetadataStore)
    provenance = store.get_provenance(namespace["model_id"])  # type: ignore[arg-type]
    assert {a.uri for a in provenance.artifacts} == {"s3://d/train.csv", "s3://m/model.pkl"}
    store.close()
    assert (tmp_path / "ml.db").exists()


class Opened:
    """Every store the examples open, to be closed after each run; server URLs redirected."""

    def __init__(self, server_url: Callable[[str], str]) -> None:
        self.stores: list[mltrail.MetadataStore] = []
        self.server_url = server_url

    def connect(self, url: Any = None, **options: Any) -> mltrail.MetadataStore:
        if isinstance(url, str) and url.split(":", 1)[0].split("+")[0] in ("postgresql", "mysql"):
            url = self.server_url(url)
        store = REAL_CONNECT(url, **options)
        self.stores.append(store)
        return store

    def close(self, namespace: dict[str, Any]) -> None:
        for value in namespace.values():
            if isinstance(value, Tracker):
                value.close()
        for store in self.stores:
            store.close()
        self.stores.clear()


REAL_CONNECT = mltrail.connect


@pytest.fixture
def opened(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Opened]:
    databases: dict[str, str] = {}

    def server_url(url: str) -> str:
        example = make_url(url)
        kind = example.get_backend_name()
        assert kind in SERVERS, url
        if kind not in databases:
            servers: dict[str, Server] = request.getfixturevalue("servers")
            need(servers[kind])
            databases[kind] = servers[kind].new_database("docs")
        test = make_url(databases[kind])
        return test.update_query_dict(dict(example.query)).render_as_string(hide_password=False)

    tracker = Opened(server_url)
    monkeypatch.setattr(mltrail, "connect", tracker.connect)
    yield tracker


RUNNABLE = [p for p in DOCS if any(b.runnable for b in python_blocks(p))]


@pytest.mark.parametrize("path", RUNNABLE, ids=lambda p: p.name)
def test_examples_run_twice(
    path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    opened: Opened,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLTRAIL_STORE", raising=False)
    blocks = [b for b in python_blocks(path) if b.runnable]
    for round_ in ("first", "second"):
        namespace: dict[str, Any] = {"__name__": f"docs.{path.stem}"}
        try:
            for block in blocks:
                try:
                    exec(block.compiled(), namespace)
                except ModuleNotFoundError as exc:
                    if exc.name is None or exc.name.split(".")[0] not in OPTIONAL_TEST_MODULES:
                        raise
                    need_module(exc.name)  # skipped without it, a failure where it is required
                    raise
                except Exception as exc:
                    raise AssertionError(
                        f"{path.name}, block at line {block.line}, {round_} run: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
        finally:
            opened.close(namespace)
    capsys.readouterr()  # what the examples print is theirs, not the test's


def test_non_runnable_blocks_are_rare() -> None:
    skipped = [(p.name, b.line) for p in DOCS for b in python_blocks(p) if not b.runnable]
    total = sum(len(python_blocks(p)) for p in DOCS)
    assert total > 10 and len(skipped) <= max(2, total // 10), skipped


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_links_resolve(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


def test_every_public_store_method_is_documented() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS)
    methods = [
        name
        for name in dir(mltrail.MetadataStore)
        if not name.startswith("_") and callable(getattr(mltrail.MetadataStore, name))
    ]
    # Methods documented as families ("get_artifacts_by_type ... and the same for executions").
    families = {
        "execution": "artifact",
        "executions": "artifacts",
        "context": "artifact",
        "contexts": "artifacts",
    }
    missing = []
    for name in methods:
        candidates = {name}
        for word, stands_for in families.items():
            candidates.add(re.sub(rf"\b{word}\b|(?<=_){word}(?=_|$)", stands_for, name))
        if not any(re.search(rf"\b{re.escape(c)}\b", text) for c in candidates):
            missing.append(name)
    assert not missing, f"undocumented MetadataStore methods: {missing}"


def test_no_stray_markers_in_docs() -> None:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        assert "TODO" not in text and "FIXME" not in text, path.name
    assert os.sep  # the docs folder exists and was scanned
    assert DOCS


def test_every_cli_command_is_documented() -> None:
    import click

    from mltrail.cli.main import main

    def commands(command: click.Command, prefix: tuple[str, ...]) -> list[str]:
        if isinstance(command, click.Group):
            return [
                name
                for key, sub in sorted(command.commands.items())
                for name in commands(sub, (*prefix, key))
            ]
        return [" ".join(prefix)]

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    found = commands(main, ())
    # named in full, or as a subcommand after its group was named on the same line
    missing = [
        c
        for c in found
        if not re.search(rf"\bmltrail {re.escape(c)}\b", text)
        and not re.search(
            rf"`mltrail {re.escape(c.rsplit(' ', 1)[0])} [^\n]*`{re.escape(c.rsplit(' ', 1)[-1])}`",
            text,
        )
    ]
    assert "artifact checkout" in found and not missing, f"not in docs/cli.md: {missing}"
