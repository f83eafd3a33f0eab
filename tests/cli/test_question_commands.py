"""``mltrail lineage``, ``compare``, ``cached`` and ``why-rerun`` on the seeded project, and once
against a real server.

The seeded ids (see ``_cli.seed``): artifacts 1 Environment, 2 data/raw.csv, 3 data/train.csv,
4 model-0.1.json, 5 and 6 the metrics and loss of train run 1, 7 model-0.2.json, 8 and 9 those
of train run 2; executions 1 prepare, 2 train (lr 0.1), 3 train (lr 0.2); contexts 1 toy,
2 toy/prepare, 3 toy/train.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import mltrail as m
from _cli import failed, ok, rerun, run
from _remote import RemoteServer
from mltrail.query.render import short_digest


def environment(root: Path) -> str:
    """The label part of the Environment artifact (its digest varies with the installation)."""
    with m.connect(str(root / ".mltrail" / "mltrail.db")) as store:
        [env] = store.get_artifacts_by_id([1])
    assert env.type == "Environment" and env.external_id
    return f"artifact 1 Environment {short_digest(env.external_id)} LIVE"


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


# -------------------------------------------------------------------------------- lineage


def test_the_tree_upstream_of_a_model_shows_a_shared_input_once(project: Path) -> None:
    env = environment(project)
    result = ok("lineage", "7")
    assert lines(result.stdout) == [
        "artifact 7 Model model-0.2.json LIVE",
        "└── execution 3 train COMPLETE",
        f"    ├── {env}",
        "    └── artifact 3 Dataset data/train.csv LIVE",
        "        └── execution 1 prepare COMPLETE",
        f"            ├── {env}  (see above)",
        "            └── artifact 2 Dataset data/raw.csv LIVE",
    ]
    assert result.stderr == ""
    assert ok("lineage", "a:7", "--up").stdout == result.stdout
    assert ok("lineage", "7", "--format", "tree").stdout == result.stdout


def test_the_depth_limit(project: Path) -> None:
    env = environment(project)
    assert lines(ok("lineage", "7", "--depth", "2").stdout) == [
        "artifact 7 Model model-0.2.json LIVE",
        "└── execution 3 train COMPLETE",
        f"    ├── {env}",
        "    └── artifact 3 Dataset data/train.csv LIVE",
    ]
    assert lines(ok("lineage", "7", "--depth", "0").stdout) == [
        "artifact 7 Model model-0.2.json LIVE"
    ]


def test_downstream_and_both_directions(project: Path) -> None:
    env = environment(project)
    down = lines(ok("lineage", "3", "--down").stdout)
    assert down == [
        "artifact 3 Dataset data/train.csv LIVE",
        "├── execution 2 train COMPLETE",
        "│   ├── artifact 4 Model model-0.1.json LIVE",
        "│   ├── artifact 5 Metrics sha256:7bc5622545be LIVE",
        "│   └── artifact 6 StepMetrics sha256:a48db8eb7be3 LIVE",
        "└── execution 3 train COMPLETE",
        "    ├── artifact 7 Model model-0.2.json LIVE",
        "    ├── artifact 8 Metrics sha256:1f91ff29b42f LIVE",
        "    └── artifact 9 StepMetrics sha256:8522bb456438 LIVE",
    ]
    both = lines(ok("lineage", "3", "--both").stdout)
    assert both == [
        "artifact 3 Dataset data/train.csv LIVE",
        "├── upstream",
        "│   └── execution 1 prepare COMPLETE",
        f"│       ├── {env}",
        "│       └── artifact 2 Dataset data/raw.csv LIVE",
        "└── downstream",
        *["    " + line for line in down[1:]],
    ]
    # From an execution: its outputs, and what was made from them.
    assert lines(ok("lineage", "e:1", "--down", "--depth", "2").stdout) == [
        "execution 1 prepare COMPLETE",
        "└── artifact 3 Dataset data/train.csv LIVE",
        "    ├── execution 2 train COMPLETE",
        "    └── execution 3 train COMPLETE",
    ]


def test_the_dag_of_a_pipeline(project: Path) -> None:
    env = environment(project)
    tree = lines(ok("lineage", "toy", "--down").stdout)  # a context, by name
    assert tree[0] == "context 1 Pipeline toy"
    assert tree[1:5] == [
        f"├── {env}",
        "│   ├── execution 1 prepare COMPLETE",
        "│   │   └── artifact 3 Dataset data/train.csv LIVE",
        "│   │       ├── execution 2 train COMPLETE",
    ]
    assert tree[-2:] == [
        "└── artifact 2 Dataset data/raw.csv LIVE",
        "    └── execution 1 prepare COMPLETE  (see above)",
    ]
    assert sum("(see above)" in line for line in tree) == 3
    # A stage's context: only its executions and what they read and wrote.
    stage = lines(ok("lineage", "c:2", "--down").stdout)
    assert stage == [
        "context 2 Stage toy/prepare",
        f"├── {env}",
        "│   └── execution 1 prepare COMPLETE",
        "│       └── artifact 3 Dataset data/train.csv LIVE",
        "└── artifact 2 Dataset data/raw.csv LIVE",
        "    └── execution 1 prepare COMPLETE  (see above)",
    ]
    up = lines(ok("lineage", "c:2", "--depth", "1").stdout)
    assert up == [
        "context 2 Stage toy/prepare",
        "└── artifact 3 Dataset data/train.csv LIVE",
        "    └── execution 1 prepare COMPLETE",
    ]


DOT_NODE = re.compile(
    r'^  ([ae]\d+) \[label="((?:[^"\\]|\\.)*)", shape=(ellipse|box)(, penwidth=2)?\];$'
)
DOT_EDGE = re.compile(r"^  ([ae]\d+) -> ([ae]\d+);$")


def test_dot(project: Path) -> None:
    text = ok("lineage", "3", "--both", "--format", "dot").stdout
    rows = text.splitlines()
    assert rows[0] == 'digraph "lineage" {' and rows[-1] == "}"
    nodes, edges, bold = {}, set(), []
    for row in rows[3:-1]:
        node, edge = DOT_NODE.match(row), DOT_EDGE.match(row)
        assert node or edge, row
        if node:
            nodes[node.group(1)] = node.group(2).split("\\n")
            if node.group(4):
                bold.append(node.group(1))
        elif edge:
            assert edge.group(1) in nodes and edge.group(2) in nodes
            edges.add((edge.group(1), edge.group(2)))
    assert sorted(nodes) == ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "e1", "e2", "e3"]
    assert nodes["a3"] == ["artifact 3", "Dataset", "data/train.csv", "LIVE"]
    assert nodes["e2"] == ["execution 2", "train", "COMPLETE"]
    assert bold == ["a3"]
    # Every event between the nodes drawn is an edge: the Environment feeds the train runs too.
    assert edges == {
        ("a1", "e1"),
        ("a1", "e2"),
        ("a1", "e3"),
        ("a2", "e1"),
        ("e1", "a3"),
        ("a3", "e2"),
        ("a3", "e3"),
        *(("e2", f"a{i}") for i in (4, 5, 6)),
        *(("e3", f"a{i}") for i in (7, 8, 9)),
    }
    # Upstream of a model: the other training run and its outputs are not part of it, nor
    # the Environment's edges into executions outside the walk.
    up = ok("lineage", "4", "--format", "dot").stdout
    assert re.findall(r"^  ([ae]\d+) \[", up, re.M) == ["a1", "a2", "a3", "a4", "e1", "e2"]


def test_mermaid(project: Path) -> None:
    rows = ok("lineage", "7", "--format", "mermaid").stdout.splitlines()
    assert rows[0] == "flowchart LR"
    assert '  a7(["artifact 7<br/>Model<br/>model-0.2.json<br/>LIVE"])' in rows
    assert '  e3["execution 3<br/>train<br/>COMPLETE"]' in rows
    edges = [row.strip() for row in rows if "-->" in row]
    assert sorted(edges) == sorted(
        ["a1 --> e1", "a1 --> e3", "a2 --> e1", "e1 --> a3", "a3 --> e3", "e3 --> a7"]
    )
    assert rows[-2:] == ["  classDef start stroke-width:3px", "  class a7 start"]


def test_json(project: Path) -> None:
    document = json.loads(ok("lineage", "e:2", "--down", "--format", "json").stdout)
    assert list(document) == ["root", "direction", "depth", "nodes", "edges", "truncated"]
    assert document["root"] == {"kind": "execution", "id": 2}
    assert (document["direction"], document["depth"]) == ("downstream", None)
    assert [n["key"] for n in document["nodes"]] == ["a4", "a5", "a6", "e2"]
    assert document["nodes"][0] == {
        "key": "a4",
        "kind": "artifact",
        "id": 4,
        "type": "Model",
        "name": None,
        "uri": "model-0.1.json",
        "state": "LIVE",
        "external_id": "sha256:d54cf5ddc783d3d4802fd9a82edcac2796e5fe44510864eb67293a53286b3fd8",
    }
    assert document["edges"] == [
        {"source": "e2", "target": f"a{i}", "type": "OUTPUT", "path": [path]}
        for i, path in ((4, "model-0.1.json"), (5, "metrics"), (6, "loss"))
    ]
    dag = json.loads(ok("lineage", "c:1", "--format", "json").stdout)
    assert dag["root"] == {"kind": "context", "id": 1}
    assert len(dag["nodes"]) == 12 and len(dag["edges"]) == 13


def test_prov(project: Path) -> None:
    from _servers import need_module

    prov_model = need_module("prov.model")
    text = ok("lineage", "e:2", "--down", "--format", "prov").stdout
    document = prov_model.ProvDocument.deserialize(content=text, format="json")
    entities = {str(r.identifier) for r in document.get_records(prov_model.ProvEntity)}
    assert entities == {f"mltrail:artifact/{i}" for i in (4, 5, 6)}
    [activity] = document.get_records(prov_model.ProvActivity)
    assert str(activity.identifier) == "mltrail:execution/2"
    generated = {str(r.args[0]) for r in document.get_records(prov_model.ProvGeneration)}
    assert generated == entities and not list(document.get_records(prov_model.ProvUsage))
    agents = list(document.get_records(prov_model.ProvAgent))
    associated = document.get_records(prov_model.ProvAssociation)
    assert agents and {str(r.args[0]) for r in associated} == {"mltrail:execution/2"}
    dag = prov_model.ProvDocument.deserialize(
        content=ok("lineage", "c:1", "--format", "prov").stdout, format="json"
    )
    nodes = [*dag.get_records(prov_model.ProvEntity), *dag.get_records(prov_model.ProvActivity)]
    assert len(nodes) == 12


def test_lineage_errors(project: Path) -> None:
    assert "no artifact named '99'" in failed("lineage", "99")
    assert "no artifacts or executions or contexts named 'nothing'" in failed("lineage", "nothing")
    assert "--depth" in failed("lineage", "3", "--depth", "-1", code=2)
    assert "--format" in failed("lineage", "3", "--format", "svg", code=2)
    assert "Missing argument" in failed("lineage", code=2)


# -------------------------------------------------------------------------------- compare


def table_rows(text: str) -> dict[str, list[str]]:
    """A rich table's rows by their first cell (continuation lines of wrapped cells joined)."""
    rows: dict[str, list[str]] = {}
    last = ""
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[0]:
            last = cells[0]
            rows[last] = cells[1:]
        else:
            rows[last] = [a + b for a, b in zip(rows[last], cells[1:])]
    return rows


TRAIN_DIFFERENCES = {
    "external_id",
    "create_time_since_epoch",
    "properties.start_time",
    "properties.end_time",
    "custom_properties.lr",
    "outputs.loss",
    "outputs.metrics",
    "outputs.model-0.1.json",
    "outputs.model-0.2.json",
}


def test_compare_two_executions_marks_exactly_the_differing_rows(project: Path) -> None:
    result = ok("compare", "e:2", "e:3")
    rows = table_rows(result.stdout)
    header = next(line for line in result.stdout.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.strip("┃").split("┃")] == [
        "field",
        "",
        "execution 2",
        "execution 3",
    ]
    marked = {field for field, cells in rows.items() if cells[0] == "*"}
    assert marked == TRAIN_DIFFERENCES
    assert rows["custom_properties.lr"] == ["*", "0.1", "0.2"]
    assert rows["custom_properties.epochs"] == ["", "3", "3"]
    assert rows["last_known_state"] == ["", "COMPLETE", "COMPLETE"]
    assert rows["inputs.data/train.csv"] == ["", "sha256:5a4074949f42", "sha256:5a4074949f42"]
    assert rows["outputs.model-0.1.json"] == ["*", "sha256:d54cf5ddc783", "—"]
    assert not any(field.startswith("custom_properties.mltrail.") for field in rows)
    assert result.stderr == "4 mltrail.* rows not shown (--all shows them)\n"

    only = table_rows(ok("compare", "e:2", "e:3", "--diff").stdout)
    assert set(only) == TRAIN_DIFFERENCES
    everything = table_rows(ok("compare", "e:2", "e:3", "--all").stdout)
    assert everything["custom_properties.mltrail.fingerprint"][0] == "*"
    assert everything["custom_properties.mltrail.owner"][0] == ""
    assert set(everything) - set(rows) == {
        f"custom_properties.mltrail.{k}"
        for k in ("fingerprint", "fingerprint_parts", "heartbeat_time", "owner")
    }


def test_compare_json_and_csv(project: Path) -> None:
    document = json.loads(ok("compare", "5", "8", "--json").stdout)
    assert document["kind"] == "artifact"
    assert [n["id"] for n in document["nodes"]] == [5, 8]
    assert document["nodes"][0]["custom_properties"] == {"accuracy": 0.55, "n_weights": 2}
    fields = {f["field"]: f for f in document["fields"]}
    assert fields["custom_properties.accuracy"] == {
        "field": "custom_properties.accuracy",
        "values": [0.55, 0.6],
        "differs": True,
    }
    assert fields["custom_properties.n_weights"]["differs"] is False
    assert fields["state"]["values"] == ["LIVE", "LIVE"]
    differing = {f["field"] for f in document["fields"] if f["differs"]}
    assert differing == {"external_id", "create_time_since_epoch", "custom_properties.accuracy"}

    table = list(csv.reader(io.StringIO(ok("compare", "e:2", "e:3", "--diff", "--csv").stdout)))
    assert table[0] == ["field", "differs", "execution 2", "execution 3"]
    assert {row[0] for row in table[1:]} == TRAIN_DIFFERENCES
    assert all(row[1] == "true" for row in table[1:])
    by_field = {row[0]: row[2:] for row in table[1:]}
    assert by_field["custom_properties.lr"] == ["0.1", "0.2"]
    assert by_field["outputs.model-0.1.json"] == [
        "sha256:d54cf5ddc783d3d4802fd9a82edcac2796e5fe44510864eb67293a53286b3fd8",
        "",
    ]


def test_compare_three_artifacts_named_several_ways(project: Path) -> None:
    digest = "sha256:d54cf5ddc783d3d4802fd9a82edcac2796e5fe44510864eb67293a53286b3fd8"
    result = ok("compare", digest, "a:7", "artifact:2", "--diff")
    header = next(line for line in result.stdout.splitlines() if line.startswith("┃"))
    assert [c.strip() for c in header.split("┃")[3:6]] == ["artifact 4", "artifact 7", "artifact 2"]
    rows = table_rows(result.stdout)
    assert rows["type"] == ["*", "Model", "Model", "Dataset"]
    assert rows["properties.framework"] == ["*", "toy", "toy", "—"]
    assert "properties.kind" not in rows  # "file" for all three


def test_compare_refuses(project: Path) -> None:
    assert "one kind" in failed("compare", "3", "e:2", code=2)
    assert "'3' is an artifact" in failed("compare", "3", "e:2", code=2)
    assert "names a context" in failed("compare", "c:1", "c:2", code=2)
    assert "two or more" in failed("compare", "3", code=2)
    assert "no artifact with id 99 to compare" in failed("compare", "3", "99")
    assert "no execution with id 99" in failed("compare", "e:2", "e:99")


# -------------------------------------------------------------------------------- caching


def test_cached_on_the_seeded_pipeline(project: Path) -> None:
    result = ok("cached", "3")
    assert result.stdout == (
        "no earlier execution completed with the fingerprint of execution 3 (train): its work "
        "had not been done before\n"
    )
    assert result.stderr == "`mltrail why-rerun 3` says what differs\n"
    document = json.loads(ok("cached", "e:2", "--json").stdout)
    assert list(document) == ["execution", "fingerprint", "cached"]
    assert document["execution"]["id"] == 2 and document["cached"] is None
    assert (
        document["fingerprint"] == document["execution"]["custom_properties"]["mltrail.fingerprint"]
    )


def test_a_rerun_with_the_same_inputs_is_a_cache_hit(project: Path) -> None:
    again = rerun(project)
    assert again == 4
    result = ok("cached", "4")
    assert lines(result.stdout) == [
        lines(result.stdout)[0],
        "  artifact 4 Model model-0.1.json LIVE",
        "  artifact 5 Metrics sha256:7bc5622545be LIVE",
        "  artifact 6 StepMetrics sha256:a48db8eb7be3 LIVE",
    ]
    assert result.stdout.startswith(
        "execution 4 can reuse execution 2's outputs (same fingerprint, recorded "
    )
    assert lines(result.stdout)[0].endswith("): 3 outputs")
    # Only earlier executions count: the first run had nothing to reuse.
    assert ok("cached", "2").stdout.startswith("no earlier execution completed")
    document = json.loads(ok("cached", "4", "--json").stdout)
    assert document["cached"]["execution"]["id"] == 2
    assert [a["id"] for a in document["cached"]["outputs"]] == [4, 5, 6]
    assert ok("why-rerun", "4").stdout == (
        "nothing differs: execution 2 completed the same work before execution 4 (same "
        "fingerprint); `mltrail cached 4` lists its outputs\n"
    )


def test_why_rerun(project: Path) -> None:
    assert ok("why-rerun", "3").stdout == (
        "execution 3 differs from execution 2, the nearest earlier execution of type train:\n"
        "  parameter lr changed: 0.1 → 0.2\n"
    )
    assert ok("why-rerun", "2").stdout == (
        "no earlier execution of type train was recorded with a fingerprint: execution 2 is "
        "the first\n"
    )
    document = json.loads(ok("why-rerun", "3", "--json").stdout)
    assert list(document) == ["execution", "fingerprint", "nearest", "differences", "cached"]
    assert document["nearest"]["id"] == 2 and document["cached"] is None
    assert document["differences"] == [
        {"part": "parameter", "name": "lr", "before": 0.1, "after": 0.2}
    ]
    # A run that failed, then the same run again: nothing differs, but nothing completed.
    failed_run = rerun(project, 0.3, fail=True)
    again = rerun(project, 0.3)
    assert ok("why-rerun", str(again)).stdout == (
        f"execution {failed_run} had the same fingerprint but did not complete (FAILED): "
        f"execution {again} did its work again\n"
    )
    assert ok("cached", str(again)).stdout.startswith("no earlier execution completed")


def test_caching_errors(project: Path) -> None:
    with m.connect(str(project / ".mltrail" / "mltrail.db")) as store:
        [bare] = store.put_executions([m.Execution(type="train")])
    for command in ("cached", "why-rerun"):
        message = failed(command, str(bare))
        assert f"execution {bare} has no recorded fingerprint" in message
        assert "FailedPreconditionError" in message
        assert "this command takes executions" in failed(command, "a:3")
        assert "no execution named '99'" in failed(command, "99")
        assert "Missing argument" in failed(command, code=2)


# -------------------------------------------------------------------------------- a server


def test_the_questions_against_a_server(empty_tree: Path, seeded_server: RemoteServer) -> None:
    server = seeded_server.url
    tree = lines(ok("lineage", "7", "--depth", "2", "--store", server).stdout)
    assert tree[:2] == ["artifact 7 Model model-0.2.json LIVE", "└── execution 3 train COMPLETE"]
    assert tree[3] == "    └── artifact 3 Dataset data/train.csv LIVE"
    dag = json.loads(ok("--store", server, "lineage", "toy", "--format", "json").stdout)
    assert len(dag["nodes"]) == 12
    rows = table_rows(ok("compare", "e:2", "e:3", "--diff", "--store", server).stdout)
    assert set(rows) == TRAIN_DIFFERENCES
    assert ok("cached", "3", "--store", server).stdout.startswith("no earlier execution")
    assert "parameter lr changed: 0.1 → 0.2" in ok("why-rerun", "3", "--store", server).stdout
    assert "no execution named '99'" in failed("cached", "99", "--store", server)


def test_the_command_line_starts_without_the_question_machinery() -> None:
    code = (
        "import json, sys; import mltrail.cli.main; "
        "heavy = ('rich', 'sqlalchemy', 'mltrail.query.render', 'mltrail.query.compare', "
        "'mltrail.query.fingerprint', 'mltrail.store'); "
        "print(json.dumps([m in sys.modules for m in heavy]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [False] * 6
    help_text = run("--help").stdout
    for command in ("lineage", "compare", "cached", "why-rerun"):
        assert f"  {command} " in help_text
