"""``mltrail ls``, ``mltrail show`` and ``mltrail runs`` against the seeded toy pipeline (see
``_cli.seed``: artifacts 1-9, executions 1 prepare and 2-3 train, contexts 1 toy, 2 toy/prepare
and 3 toy/train), and against a server holding a copy of it."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.shell_completion import ShellComplete

import mltrail
from _cli import failed, ok, run
from _remote import RemoteServer
from mltrail.cli import main
from mltrail.data import Cache, Oid

ALL_ARTIFACTS = [9, 8, 7, 6, 5, 4, 3, 2, 1]


def table(stdout: str) -> list[list[str]]:
    """The cells of a boxed table's rows."""
    return [
        [part.strip() for part in line.split("│")[1:-1]]
        for line in stdout.splitlines()
        if line.startswith("│")
    ]


def csv_rows(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def pages(*args: str, env: dict[str, str | None] | None = None) -> list[list[int]]:
    """The ids of each page of ``mltrail ls ARGS --csv``, following the printed continuations."""
    found: list[list[int]] = []
    command = ["ls", *args]
    while True:
        result = ok(*command, env=env)
        found.append([int(row["id"]) for row in csv_rows(result.stdout)])
        hint = result.stderr.strip()
        if not hint:
            return found
        assert hint.startswith("more: mltrail "), hint
        command = shlex.split(hint.removeprefix("more: "))[1:]
        assert len(found) < 20, "the pages never end"


class Counting:
    """A store whose public method calls are recorded by name."""

    def __init__(self, store: Any, calls: list[str]) -> None:
        self._store = store
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        if name.startswith("_") or not callable(method) or name == "close":
            return method

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(name)
            return method(*args, **kwargs)

        return counted


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The store calls the commands make from now on."""
    made: list[str] = []
    connect = mltrail.connect
    monkeypatch.setattr(mltrail, "connect", lambda *a, **k: Counting(connect(*a, **k), made))
    return made


# -------------------------------------------------------------------------------- ls


def test_ls_lists_nodes_newest_first(project: Path) -> None:
    rows = table(ok("ls", "artifacts").stdout)
    assert [int(r[0]) for r in rows] == ALL_ARTIFACTS
    by_id = {int(r[0]): r for r in rows}
    assert by_id[4][1:5] == ["Model", "", "model-0.1.json", "LIVE"]
    assert by_id[2][1:5] == ["Dataset", "", "data/raw.csv", "LIVE"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by_id[4][5])
    executions = table(ok("ls", "execution").stdout)
    assert [(r[0], r[1], r[3]) for r in executions] == [
        ("3", "train", "COMPLETE"),
        ("2", "train", "COMPLETE"),
        ("1", "prepare", "COMPLETE"),
    ]
    contexts = table(ok("ls", "CONTEXTS").stdout)
    assert [(r[0], r[1], r[2]) for r in contexts] == [
        ("3", "Stage", "toy/train"),
        ("2", "Stage", "toy/prepare"),
        ("1", "Pipeline", "toy"),
    ]


def test_ls_by_type_filter_and_order(project: Path) -> None:
    models = csv_rows(ok("ls", "artifacts", "--type", "Model", "--csv").stdout)
    assert [(r["id"], r["uri"]) for r in models] == [
        ("7", "model-0.2.json"),
        ("4", "model-0.1.json"),
    ]
    assert list(models[0]) == ["id", "type", "name", "uri", "state", "created"]
    good = ok("ls", "executions", "--filter", "custom_properties.lr > 0.15", "--csv").stdout
    assert [r["id"] for r in csv_rows(good)] == ["3"]
    both = ok(
        "ls", "artifacts", "--type", "Metrics", "--filter", "custom_properties.accuracy < 0.58"
    )
    assert [r[0] for r in table(both.stdout)] == ["5"]
    ascending = ok("ls", "artifacts", "--order-by", "id", "--asc", "--csv").stdout
    assert [int(r["id"]) for r in csv_rows(ascending)] == sorted(ALL_ARTIFACTS)
    updated = ok("ls", "executions", "--order-by", "last_update_time", "--csv").stdout
    assert [r["id"] for r in csv_rows(updated)] == ["3", "2", "1"]


def test_ls_json_is_the_whole_records_and_the_page_token(project: Path) -> None:
    document = json.loads(ok("ls", "executions", "--json").stdout)
    assert document["next_page_token"] is None
    assert [e["id"] for e in document["items"]] == [3, 2, 1]
    latest = document["items"][0]
    assert latest["last_known_state"] == "COMPLETE"
    assert latest["custom_properties"]["lr"] == 0.2
    assert latest["properties"]["stage"] == "train"
    page = json.loads(ok("ls", "artifacts", "--limit", "4", "--json").stdout)
    assert [a["id"] for a in page["items"]] == [9, 8, 7, 6]
    rest = json.loads(
        ok(
            "ls", "artifacts", "--limit", "4", "--json", "--page-token", page["next_page_token"]
        ).stdout
    )
    assert [a["id"] for a in rest["items"]] == [5, 4, 3, 2]
    empty = json.loads(ok("ls", "artifacts", "--filter", "id > 100", "--json").stdout)
    assert empty == {"items": [], "next_page_token": None}


def test_pages_chain_through_the_printed_command_without_overlap_or_gaps(project: Path) -> None:
    assert pages("artifacts", "--limit", "2", "--csv") == [[9, 8], [7, 6], [5, 4], [3, 2], [1]]
    # the continuation repeats the options the token was made for
    assert pages(
        "artifacts",
        "--filter",
        "uri LIKE '%.json' OR type = 'Metrics'",
        "--order-by",
        "id",
        "--asc",
        "--limit",
        "1",
        "--csv",
    ) == [[4], [5], [7], [8]]
    assert pages("executions", "--type", "train", "--limit", "1", "--csv") == [[3], [2]]
    result = ok("ls", "contexts", "--limit", "2")
    assert [r[0] for r in table(result.stdout)] == ["3", "2"]
    assert result.stderr.startswith("more: mltrail ls contexts --limit 2 --page-token ")


def test_all_pages_stream_as_one_document(project: Path, calls: list[str]) -> None:
    streamed = ok("ls", "artifacts", "--all", "--limit", "2", "--csv")
    assert [int(r["id"]) for r in csv_rows(streamed.stdout)] == ALL_ARTIFACTS
    assert streamed.stderr == ""
    assert calls == ["get_artifacts"] * 5  # one call per page
    document = json.loads(ok("ls", "artifacts", "--all", "--limit", "4", "--json").stdout)
    assert [a["id"] for a in document["items"]] == ALL_ARTIFACTS
    assert document["next_page_token"] is None
    rows = table(ok("ls", "artifacts", "--all", "--limit", "3", "--type", "Dataset").stdout)
    assert [r[0] for r in rows] == ["3", "2"]
    del calls[:]
    ok("ls", "artifacts", "--all")  # without --limit: big pages
    assert calls == ["get_artifacts"]


def test_ls_types(project: Path) -> None:
    rows = table(ok("ls", "types").stdout)
    kinds = {(r[0], r[2]) for r in rows}
    assert {("artifact", "Model"), ("execution", "train"), ("context", "Stage")} <= kinds
    contexts = table(ok("ls", "type", "--kind", "context").stdout)
    assert [(r[0], r[2], r[4]) for r in contexts] == [
        ("context", "Pipeline", ""),
        ("context", "Stage", "pipeline:STRING, stage:STRING"),
    ]
    listed = json.loads(ok("ls", "types", "--kind", "artifact", "--json").stdout)
    metrics = next(t for t in listed["items"] if t["name"] == "Metrics")
    assert metrics["kind"] == "artifact"
    assert metrics["properties"] == {"metrics_name": "STRING"}
    assert metrics["base_type"] == "METRICS"
    as_csv = csv_rows(ok("ls", "types", "--kind", "execution", "--csv").stdout)
    assert [r["name"] for r in as_csv] == ["prepare", "train"]


def test_ls_errors(project: Path) -> None:
    error = failed("ls", "artifacts", "--filter", "type = ")
    assert error.startswith("error: QuerySyntaxError: ")
    lines = error.splitlines()
    caret = next(line for line in lines if line.strip() == "^")
    assert lines[lines.index(caret) - 1].strip() == "type ="
    assert "no artifact type named 'Modle' (the artifact types: " in failed(
        "ls", "artifacts", "--type", "Modle"
    )
    assert "Model" in failed("ls", "artifacts", "--type", "Modle")
    assert "no execution type named 'Model'" in failed("ls", "executions", "--type", "Model")
    # a type with no matching node is an empty listing, not an error
    quiet = ok("ls", "executions", "--type", "train", "--filter", "custom_properties.lr > 5")
    assert (quiet.stdout, quiet.stderr.strip()) == ("", "no executions")
    assert "page" in failed("ls", "artifacts", "--page-token", "not-a-token")
    for output in ("--json", "--csv"):  # nothing half-printed on stdout
        result = run("ls", "artifacts", "--type", "Modle", output)
        assert (result.exit_code, result.stdout) == (1, "")
        result = run("ls", "artifacts", "--filter", "type =", "--all", output)
        assert (result.exit_code, result.stdout) == (1, "")


@pytest.mark.parametrize(
    "args",
    [
        ["ls"],
        ["ls", "nodes"],
        ["ls", "types", "--type", "Model"],
        ["ls", "types", "--filter", "id = 1"],
        ["ls", "types", "--page-token", "x"],
        ["ls", "artifacts", "--kind", "artifact"],
        ["ls", "artifacts", "--limit", "0"],
        ["ls", "artifacts", "--order-by", "name"],
        ["ls", "artifacts", "--all", "--page-token", "x"],
        ["show"],
        ["runs"],
        ["runs", "toy", "--limit", "0"],
    ],
)
def test_usage_errors_exit_2(project: Path, args: list[str]) -> None:
    failed(*args, code=2)


def test_a_missing_store_is_one_line(empty_tree: Path) -> None:
    for args in (["ls", "artifacts"], ["ls", "types"], ["show", "1"], ["runs", "toy"]):
        assert failed(*args).startswith(f"error: NotFoundError: no mltrail store at {empty_tree}")
    assert not (empty_tree / ".mltrail").exists()
    assert "elsewhere.db" in failed("ls", "artifacts", "--store", "elsewhere.db")


def test_type_names_complete_from_the_store(project: Path, empty_tree: Path) -> None:
    def complete(*args: str, incomplete: str = "") -> list[str]:
        completer = ShellComplete(main, {}, "mltrail", "_MLTRAIL_COMPLETE")
        return [item.value for item in completer.get_completions(list(args), incomplete)]

    assert complete("ls", "artifacts", "--type", incomplete="M") == ["Metrics", "Model"]
    assert complete("ls", "executions", "--type") == ["prepare", "train"]
    assert "Pipeline" in complete("ls", "--type", incomplete="P")
    assert complete("ls", "artifacts", "--store", "nowhere.db", "--type") == []
    other = project.parent / "other.db"
    shutil.copy(project / ".mltrail" / "mltrail.db", other)
    shutil.rmtree(project / ".mltrail")
    assert complete("ls", "artifacts", "--type") == []
    assert complete("--store", str(other), "ls", "executions", "--type") == ["prepare", "train"]
    assert "Model" in complete("ls", "artifacts", "--store", str(other), "--type")
    assert not (project / ".mltrail").exists()


def test_the_command_line_starts_without_the_listing_machinery() -> None:
    code = (
        "import json, sys; import mltrail.cli.main; "
        "heavy = ('rich', 'sqlalchemy', 'mltrail.store', 'mltrail.tracking', 'mltrail.data'); "
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
    help_text = ok("--help").stdout
    for command in ("ls", "show", "runs"):
        assert f"  {command} " in help_text


# -------------------------------------------------------------------------------- show


def sections(stdout: str) -> dict[str, list[str]]:
    """The lines of each titled section of ``mltrail show`` (titles start in column 0)."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in stdout.splitlines():
        if line and not line.startswith(" "):
            current = found.setdefault(line.strip(), [])
        elif line.strip() and not set(line.strip()) <= {"─"}:
            current.append(" ".join(line.split()))
    return found


def test_show_an_artifact_with_its_producers_consumers_and_bytes(
    project: Path, calls: list[str]
) -> None:
    shown = sections(ok("show", "3").stdout)
    assert calls == [
        "get_artifacts_by_id",
        "get_events_by_artifact_ids",
        "get_executions_by_id",
        "get_contexts_by_artifact",
    ]
    header = shown["artifact 3"]
    assert "type Dataset" in header and "uri data/train.csv" in header
    [digest] = [line for line in header if line.startswith("external id sha256:")]
    assert "bytes in the cache (.mltrail/cache)" in header
    assert "path data/train.csv" in shown["properties"]
    assert 'paths ["data/train.csv"]' in shown["properties"]
    assert shown["producers (executions)"][1:] == ["1 prepare COMPLETE OUTPUT data/train.csv"]
    assert shown["consumers (executions)"][1:] == [
        "2 train COMPLETE INPUT data/train.csv",
        "3 train COMPLETE INPUT data/train.csv",
    ]
    assert shown["contexts"][1:] == ["1 Pipeline toy", "2 Stage toy/prepare", "3 Stage toy/train"]
    shutil.rmtree(project / ".mltrail" / "cache")
    assert (
        "bytes not in the cache (.mltrail/cache)"
        in sections(ok("show", "a:3").stdout)["artifact 3"]
    )
    assert digest.removeprefix("external id ") in ok("show", digest.split()[-1]).stdout


def test_show_an_execution_with_its_inputs_and_outputs(project: Path) -> None:
    shown = sections(ok("show", "e:2").stdout)
    header = shown["execution 2"]
    assert "type train" in header and "state COMPLETE" in header
    assert not any(line.startswith("bytes") for line in header)
    assert "lr 0.1" in shown["custom properties"]
    assert any(re.fullmatch(r"start_time \S+ \S+ \(\d+\)", line) for line in shown["properties"])
    assert shown["inputs (artifacts)"][1:] == [
        "1 Environment INPUT environment",
        "3 Dataset INPUT data/train.csv data/train.csv",
    ]
    assert shown["outputs (artifacts)"][1:] == [
        "4 Model OUTPUT model-0.1.json model-0.1.json",
        "5 Metrics OUTPUT metrics",
        "6 StepMetrics OUTPUT loss",
    ]
    assert shown["contexts"][1:] == ["1 Pipeline toy", "3 Stage toy/train"]
    # a structured value is printed as JSON, indented when it is long
    parts = ok("show", "execution:2").stdout
    assert '"parameters": {' in parts and "{'" not in parts


def test_show_a_context_with_its_parents_children_and_members(
    project: Path, calls: list[str]
) -> None:
    shown = sections(ok("show", "c:toy").stdout)
    assert "name toy" in shown["context 1"]
    assert shown["children"][1:] == ["2 Stage toy/prepare", "3 Stage toy/train"]
    assert "parents" not in shown
    assert shown["members"] == ["artifacts 9", "executions 3"]
    assert calls == [
        "get_contexts",  # the name
        "get_parent_contexts_by_context",
        "get_children_contexts_by_context",
        "count_artifacts",
        "count_executions",
    ]
    assert sections(ok("show", "toy").stdout)["context 1"] == shown["context 1"]
    document = json.loads(ok("show", "c:3", "--json").stdout)
    assert document["kind"] == "context"
    assert document["node"]["name"] == "toy/train"
    assert [c["name"] for c in document["parents"]] == ["toy"]
    assert document["children"] == []
    assert document["members"] == {"artifacts": 8, "executions": 2}


def test_show_json_is_the_node_and_its_edges(project: Path) -> None:
    document = json.loads(ok("show", "4", "--json").stdout)
    assert document["kind"] == "artifact"
    assert document["node"]["uri"] == "model-0.1.json"
    assert document["node"]["properties"]["framework"] == "toy"
    [producer] = document["producers"]
    assert producer["execution"]["id"] == 2
    assert producer["event"] == {
        "artifact_id": 4,
        "execution_id": 2,
        "type": "OUTPUT",
        "path": ["model-0.1.json"],
        "milliseconds_since_epoch": producer["event"]["milliseconds_since_epoch"],
    }
    assert document["consumers"] == []
    assert [c["id"] for c in document["contexts"]] == [1, 3]
    assert document["cache"] == {"cache": ".mltrail/cache", "files": 1, "cached": 1}
    execution = json.loads(ok("show", "e:3", "--json").stdout)
    assert [e["artifact"]["id"] for e in execution["outputs"]] == [7, 8, 9]
    assert [e["event"]["type"] for e in execution["inputs"]] == ["INPUT", "INPUT"]
    metrics = json.loads(ok("show", "5", "--json").stdout)
    assert metrics["cache"] is None  # not a file: no bytes to look for


def test_show_errors(project: Path) -> None:
    assert "no artifact named '99'" in failed("show", "99")
    assert "no execution named '99'" in failed("show", "e:99")
    assert "no artifacts or executions or contexts named 'nope'" in failed("show", "nope")


# -------------------------------------------------------------------------------- runs


def runs_lines(stdout: str) -> list[str]:
    return [" ".join(line.split()) for line in stdout.splitlines()]


def test_runs_table(project: Path, calls: list[str]) -> None:
    result = ok("runs", "toy")
    header, rule, *rows, same = result.stdout.splitlines()
    assert header.split() == [
        "id",
        "stage",
        "started",
        "duration",
        "epochs",
        "lr",
        "threshold",
        "accuracy",
        "loss_last",
        "n_weights",
    ]
    assert set(rule.strip()) == {"─"}
    time = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d+\.\d+s"
    assert re.fullmatch(rf"3 train {time} 3 0\.2 0\.6 0\.3125 2", " ".join(rows[0].split()))
    assert re.fullmatch(rf"2 train {time} 3 0\.1 0\.55 0\.3226 2", " ".join(rows[1].split()))
    assert re.fullmatch(rf"1 prepare {time} 0\.5", " ".join(rows[2].split()))
    assert same == "same in every run: state=COMPLETE"
    assert result.stderr == ""
    assert calls == [
        "get_contexts",  # the pipeline by name
        "get_children_contexts_by_context",
        "get_context_dag",  # every run, its events and artifacts, whatever the stages
    ]
    assert runs_lines(ok("runs", "1").stdout)[2:] == runs_lines(result.stdout)[2:]


def test_runs_of_one_stage_sorted_by_a_metric(project: Path) -> None:
    lines = runs_lines(ok("runs", "toy", "--stage", "train", "--sort", "accuracy", "--asc").stdout)
    assert lines[0] == "id started duration lr accuracy loss_last"
    assert [line.split()[0] for line in lines[2:-1]] == ["2", "3"]
    assert lines[-1] == "same in every run: stage=train, state=COMPLETE, epochs=3, n_weights=2"
    best = runs_lines(ok("runs", "toy", "--sort", "loss_last", "--asc", "--limit", "1").stdout)
    assert [line.split()[0] for line in best[2:]] == ["3"]
    by_lr = csv_rows(ok("runs", "toy", "--sort", "lr", "--csv").stdout)
    assert [r["id"] for r in by_lr] == ["3", "2", "1"]  # no lr: last
    oldest = csv_rows(ok("runs", "toy", "--asc", "--csv").stdout)
    assert [r["id"] for r in oldest] == ["1", "2", "3"]


def test_runs_csv_and_json(project: Path) -> None:
    rows = csv_rows(ok("runs", "toy", "--csv").stdout)
    assert list(rows[0]) == [
        "id",
        "stage",
        "state",
        "started",
        "duration_s",
        "epochs",
        "lr",
        "threshold",
        "accuracy",
        "loss_last",
        "n_weights",
    ]
    assert [(r["id"], r["stage"], r["lr"], r["accuracy"]) for r in rows] == [
        ("3", "train", "0.2", "0.6"),
        ("2", "train", "0.1", "0.55"),
        ("1", "prepare", "", ""),
    ]
    assert rows[2]["threshold"] == "0.5" and float(rows[2]["duration_s"]) >= 0
    records = json.loads(ok("runs", "toy", "--stage", "train", "--json").stdout)
    assert [r["id"] for r in records] == [3, 2]
    assert records[0]["parameters"] == {"epochs": 3, "lr": 0.2}
    assert records[0]["metrics"] == {"accuracy": 0.6, "n_weights": 2, "loss_last": 0.3125}
    assert records[0]["state"] == "COMPLETE"
    assert records[0]["duration_ms"] == records[0]["end_time"] - records[0]["start_time"]
    assert records[0]["execution"]["external_id"]


def test_runs_fit_a_narrow_terminal(project: Path) -> None:
    result = run("runs", "toy", "--sort", "n_weights", env={"COLUMNS": "60"})
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 60
    header = result.stdout.splitlines()[0].split()
    assert header[0] == "id" and "n_weights" in header and "started" not in header
    assert result.stderr.startswith("left out to fit the terminal: started, ")


def test_runs_errors(project: Path) -> None:
    assert "no context named 'nope'" in failed("runs", "nope")
    assert "has no stage 'eval'; its stages: prepare, train" in failed(
        "runs", "toy", "--stage", "eval"
    )
    assert "no run has a column 'acc'" in failed("runs", "toy", "--sort", "acc")
    assert "this command takes contexts" in failed("runs", "a:1")


# ---------------------------------------------------------------------------- one server


def test_listings_of_a_server(empty_tree: Path, seeded_server: RemoteServer) -> None:
    url = seeded_server.url
    assert pages("artifacts", "--store", url, "--limit", "4", "--csv") == [
        [9, 8, 7, 6],
        [5, 4, 3, 2],
        [1],
    ]
    models = table(ok("--store", url, "ls", "artifacts", "--type", "Model").stdout)
    assert [r[3] for r in models] == ["model-0.2.json", "model-0.1.json"]
    assert "no artifact type named 'Modle'" in failed(
        "ls", "artifacts", "--store", url, "--type", "Modle"
    )
    shown = sections(ok("show", "e:3", "--store", url).stdout)
    assert shown["outputs (artifacts)"][1] == "7 Model OUTPUT model-0.2.json model-0.2.json"
    assert (
        "bytes not in the cache (.mltrail/cache)"
        in sections(ok("show", "7", "--store", url).stdout)["artifact 7"]
    )
    rows = csv_rows(ok("runs", "toy", "--store", url, "--csv").stdout)
    assert [(r["id"], r["lr"], r["loss_last"]) for r in rows] == [
        ("3", "0.2", "0.3125"),
        ("2", "0.1", "0.3226"),
        ("1", "", ""),
    ]


def test_show_counts_the_cached_files_of_a_directory(empty_tree: Path) -> None:
    data = empty_tree / "images"
    data.mkdir()
    (data / "a.txt").write_text("a")
    (data / "b.txt").write_text("b")
    with mltrail.Tracker(pipeline="dirs") as tracker, tracker.stage("load").execution() as step:
        logged = step.log_dataset(data)
    assert logged.external_id is not None and logged.external_id.endswith(".dir")
    shown = sections(ok("show", str(logged.id)).stdout)
    assert "bytes in the cache (.mltrail/cache)" in shown[f"artifact {logged.id}"]
    cache = Cache(empty_tree / ".mltrail" / "cache")
    oid = Oid.parse(logged.external_id)
    [(_, first), _] = sorted(cache.read_manifest(oid))
    Path(cache.path(first)).unlink()
    shown = sections(ok("show", str(logged.id)).stdout)
    assert "bytes 1 of 2 files in the cache (.mltrail/cache)" in shown[f"artifact {logged.id}"]
    Path(cache.path(oid)).unlink()
    document = json.loads(ok("show", str(logged.id), "--json").stdout)
    assert document["cache"] == {"cache": ".mltrail/cache", "files": None, "cached": 0}
