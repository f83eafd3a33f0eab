"""``mltrail export dump`` and ``mltrail import dump``: the toy pipeline's store written as JSON
lines and read back into other stores."""

from __future__ import annotations

import json
from pathlib import Path

import mltrail as m
from _cli import failed, ok


def names(location: Path) -> list[tuple[str, str]]:
    with m.connect(location) as store:
        return sorted(
            [("artifact", str(a.uri)) for a in store.get_artifacts()]
            + [("execution", str(e.name)) for e in store.get_executions()]
            + [("context", str(c.name)) for c in store.get_contexts()]
        )


def test_a_store_and_a_pipeline_dumped_and_imported(project: Path) -> None:
    original = names(project / ".mltrail" / "mltrail.db")
    printed = ok("export", "dump", "toy.jsonl").stdout
    records = sum(
        len(json.loads(line)["batch"]["nodes"])
        for line in Path("toy.jsonl").read_text().splitlines()
    )
    assert printed == f"wrote {records} record(s) in 1 batch(es) to toy.jsonl\n"
    assert f"{records} created" in ok("--store", "copy.db", "import", "dump", "toy.jsonl").stdout
    assert names(project / "copy.db") == original

    ok("export", "dump", "run.jsonl", "--context", "toy", "--batch-size", "2")
    assert len(Path("run.jsonl").read_text().splitlines()) > 1
    ok("--store", "part.db", "import", "dump", "run.jsonl")
    assert names(project / "part.db") == original  # the toy pipeline is the whole store
    assert "0 created" in ok("--store", "part.db", "import", "dump", "run.jsonl").stdout


def test_what_it_refuses(project: Path) -> None:
    ok("export", "dump", "toy.jsonl")
    text = Path("toy.jsonl").read_text().replace('"to":', '"to": ')
    Path("bad.jsonl").write_text(text)
    assert "digest" in failed("--store", "bad.db", "import", "dump", "bad.jsonl")
    assert names(project / "bad.db") == []
    assert "does not exist" in failed("import", "dump", "missing.jsonl", code=2)
    assert "choose one subset" in failed(
        "export", "dump", "x.jsonl", "--context", "toy", "--execution", "1", code=2
    )
