"""``mltrail init``, ``status`` and ``migrate``; how every command chooses its store; errors
and exit codes; shell completion."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import mltrail
from _cli import failed, ok, run
from _remote import RemoteServer
from mltrail.backends.sql.database import Database
from mltrail.backends.sql.migrations import builtin_migrations, prepare_schema
from mltrail.cli import main

LIBRARY = builtin_migrations()[-1].version


def old_store(path: Path, version: int) -> Path:
    """A store file at schema ``version`` (older than the library's)."""
    database = Database(f"sqlite:///{path}", {})
    try:
        prepare_schema(database, migrations=builtin_migrations()[:version])
    finally:
        database.close()
    return path


def schema_version(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM mlt_schema")]


# -------------------------------------------------------------------------------- init


def test_init_creates_the_project_store_once(empty_tree: Path) -> None:
    created = ok("init").stdout
    store = empty_tree / ".mltrail" / "mltrail.db"
    assert created.strip() == f"created store SQLite file {store} (schema version {LIBRARY})"
    assert store.is_file() and (empty_tree / ".mltrail" / ".gitignore").is_file()
    again = ok("init").stdout
    assert "exists" in again and "nothing to do" in again
    with mltrail.connect(store) as opened:
        assert opened.count_artifacts() == 0


def test_init_adds_a_remote(empty_tree: Path) -> None:
    lines = ok("init", "--remote", "../central.db", "--remote-name", "central").stdout.splitlines()
    assert lines[1] == f"remote central added (metadata): {empty_tree.parent / 'central.db'}"
    listed = json.loads(ok("remote", "list", "--json").stdout)
    assert [(r["name"], r["kind"]) for r in listed] == [("central", "metadata")]
    assert not (empty_tree.parent / "central.db").exists()  # nothing made there yet


def test_init_at_a_store_url(empty_tree: Path) -> None:
    ok("init", "--store", "sqlite:///elsewhere.db")
    assert (empty_tree / "elsewhere.db").is_file()
    assert not (empty_tree / ".mltrail" / "mltrail.db").exists()


def test_init_leaves_an_older_store_to_migrate(empty_tree: Path) -> None:
    path = old_store(empty_tree / "old.db", LIBRARY - 1)
    message = failed("init", "--store", str(path))
    assert "SchemaVersionError" in message and "run `mltrail migrate`" in message
    assert schema_version(path) == [LIBRARY - 1]


# -------------------------------------------------------------------------------- status


def test_status_counts_what_the_store_holds(project: Path) -> None:
    report = json.loads(ok("status", "--json").stdout)
    with mltrail.connect(project / ".mltrail" / "mltrail.db") as opened:
        assert report["artifacts"] == opened.count_artifacts() > 0
        assert report["executions"] == opened.count_executions() == 3
        assert report["contexts"] == opened.count_contexts()
        assert report["types"]["execution"] == len(opened.get_execution_types())
    assert report["schema_version"] == report["library_schema_version"] == LIBRARY
    assert report["remotes"] == []
    table = ok("status").stdout
    assert re.search(rf"^schema\s+version {LIBRARY}\s*$", table, re.M)
    assert re.search(r"^executions\s+3\s*$", table, re.M)
    assert "none (mltrail remote add NAME URL)" in table


def test_status_says_what_each_remote_lacks(project: Path) -> None:
    ok("remote", "add", "central", "../central.db")
    ok("remote", "add", "bytes", "../objects", "--kind", "data")
    first = json.loads(ok("status", "--json").stdout)["remotes"]
    central = next(r for r in first if r["name"] == "central")
    executions = json.loads(ok("status", "--json").stdout)["executions"]
    assert central["unpushed"]["executions"] == executions == 3
    assert central["unpushed"]["types"] > 0
    assert "unpushed" not in next(r for r in first if r["name"] == "bytes")
    assert not (project.parent / "central.db").exists()  # asking created nothing
    assert "not pushed yet: types" in ok("status").stdout
    ok("push", "central")
    after = json.loads(ok("status", "--json").stdout)["remotes"]
    assert next(r for r in after if r["name"] == "central")["unpushed"] == dict.fromkeys(
        ("types", "artifacts", "executions", "contexts"), 0
    )
    assert "central.db: up to date" in ok("status").stdout
    offline = json.loads(ok("status", "--json", "--offline").stdout)["remotes"]
    assert all("unpushed" not in r for r in offline)


def test_status_with_an_unreachable_remote_still_answers(project: Path) -> None:
    ok("remote", "add", "gone", "http://127.0.0.1:9")
    report = json.loads(ok("status", "--json").stdout)
    assert report["remotes"][0]["error"].startswith("UnavailableError")
    assert "cannot tell what it lacks (UnavailableError" in ok("status").stdout


def test_status_of_a_missing_store_is_one_line(empty_tree: Path) -> None:
    message = failed("status")
    assert "no mltrail store at" in message and "mltrail init" in message
    assert not (empty_tree / ".mltrail" / "mltrail.db").exists()


# -------------------------------------------------------------------------------- migrate


def test_migrate_dry_run_shows_the_versions_and_changes_nothing(empty_tree: Path) -> None:
    path = old_store(empty_tree / "old.db", LIBRARY - 1)
    shown = ok("migrate", "--store", str(path), "--dry-run").stdout.splitlines()
    assert shown[0].endswith(f"would migrate from schema version {LIBRARY - 1} to {LIBRARY}")
    last = builtin_migrations()[-1]
    assert shown[1:] == [f"  {last.version}: {last.summary}"]
    assert schema_version(path) == [LIBRARY - 1]
    done = ok("migrate", "--store", str(path)).stdout.splitlines()
    assert done[0].endswith(f"migrated from schema version {LIBRARY - 1} to {LIBRARY}")
    assert schema_version(path) == [LIBRARY]
    assert (
        ok("migrate", "--store", str(path))
        .stdout.strip()
        .endswith(f"schema version {LIBRARY}, up to date")
    )
    with mltrail.connect(path, migrate=False) as opened:  # opens without migrating
        assert opened.schema_version == LIBRARY


def test_migrate_refuses_what_it_must_not_touch(empty_tree: Path) -> None:
    assert "no store at" in failed("migrate", "--store", "missing.db")
    assert not (empty_tree / "missing.db").exists()
    newer = empty_tree / "newer.db"
    ok("init", "--store", str(newer))
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE mlt_schema SET version = 99")
    message = failed("migrate", "--store", str(newer), "--dry-run")
    assert "SchemaVersionError" in message and "newer than version" in message
    assert schema_version(newer) == [99]
    assert "migrates its stores when it starts" in failed(
        "migrate", "--store", "http://127.0.0.1:9"
    )


def test_commands_that_read_name_the_migration(empty_tree: Path) -> None:
    path = old_store(empty_tree / "old.db", LIBRARY - 1)
    message = failed("status", "--store", str(path))
    assert "`mltrail migrate --dry-run`" in message
    assert schema_version(path) == [LIBRARY - 1]


# -------------------------------------------------------------------------------- the store


def test_which_store_a_command_talks_to(empty_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("default", "env", "group", "command"):
        store = empty_tree / f"{name}.db"
        with mltrail.connect(store) as opened:
            opened.put_artifact_type(mltrail.ArtifactType(name=f"T-{name}"))
    (empty_tree / ".mltrail").mkdir()
    (empty_tree / "default.db").rename(empty_tree / ".mltrail" / "mltrail.db")

    def used(*args: str) -> str:
        report = json.loads(ok(*args).stdout)
        return str(report["store"])

    assert used("status", "--json").endswith(".mltrail/mltrail.db")
    monkeypatch.setenv("MLTRAIL_STORE", str(empty_tree / "env.db"))
    assert used("status", "--json").endswith("env.db")
    assert used("--store", "group.db", "status", "--json").endswith("group.db")
    assert used("--store", "group.db", "status", "--store", "command.db", "--json").endswith(
        "command.db"
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteServer]:
    home = tmp_path_factory.mktemp("served")
    with mltrail.connect(home / "central.db") as opened:
        opened.put_artifact_type(mltrail.ArtifactType(name="Dataset"))
        opened.put_artifacts([mltrail.Artifact(type="Dataset", name=f"d{i}") for i in range(4)])
    server = RemoteServer(f"sqlite:///{home / 'central.db'}", home)
    yield server
    server.close()


def test_status_of_a_server(empty_tree: Path, served: RemoteServer) -> None:
    report = json.loads(ok("status", "--store", served.url, "--json").stdout)
    assert report["artifacts"] == 4 and report["types"]["artifact"] == 1
    assert report["store"] == f"{served.url} (mltrail server)"
    assert "keeps its schema current" in ok("--store", served.url, "status").stdout


# -------------------------------------------------------------------------------- errors


def test_exit_codes_and_one_line_errors(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("status", "--no-such-option").exit_code == 2
    assert run("no-such-command").exit_code == 2
    assert run("completion", "tcsh").exit_code == 2

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk said no")

    monkeypatch.setattr(mltrail.MetadataStore, "count_artifacts", broken)
    message = failed("status")
    assert message.strip() == (
        "error: internal error (RuntimeError: the disk said no); --debug shows where"
    )
    debugged = run("--debug", "status")
    assert debugged.exit_code == 1 and isinstance(debugged.exception, RuntimeError)


def test_a_file_system_error_is_one_line(project: Path) -> None:
    (project / "not-a-dir").write_text("")
    message = failed("init", "--store", "not-a-dir/x.db")
    assert message.startswith("error: ") and "not-a-dir" in message


# -------------------------------------------------------------------------------- completion


def test_completion_scripts_and_answers(empty_tree: Path) -> None:
    for shell, marker in (("bash", "complete -o"), ("zsh", "compdef"), ("fish", "complete")):
        script = ok("completion", shell).stdout
        assert "_MLTRAIL_COMPLETE" in script and marker in script
    answered = CliRunner().invoke(
        main,
        [],
        prog_name="mltrail",
        env={"_MLTRAIL_COMPLETE": "bash_complete", "COMP_WORDS": "mltrail mig", "COMP_CWORD": "1"},
    )
    assert answered.exit_code == 0
    assert answered.stdout.split() == ["plain,migrate"]
    options = CliRunner().invoke(
        main,
        [],
        prog_name="mltrail",
        env={
            "_MLTRAIL_COMPLETE": "bash_complete",
            "COMP_WORDS": "mltrail completion ",
            "COMP_CWORD": "2",
        },
    )
    assert options.stdout.split() == ["plain,bash", "plain,zsh", "plain,fish"]


def test_remote_names_complete(empty_tree: Path) -> None:
    ok("remote", "add", "central", "../central.db")
    ok("remote", "add", "bucket", "../objects", "--kind", "data")

    def complete(words: str) -> list[str]:
        answered = CliRunner().invoke(
            main,
            [],
            prog_name="mltrail",
            env={
                "_MLTRAIL_COMPLETE": "bash_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split(" ")) - 1),
            },
        )
        assert answered.exit_code == 0
        return answered.stdout.split()

    assert complete("mltrail push ") == ["plain,bucket", "plain,central"]
    assert complete("mltrail artifact pull b") == ["plain,bucket"]
    assert complete("mltrail remote remove c") == ["plain,central"]
    (empty_tree / ".mltrail" / "config.toml").write_text("not [ toml")
    assert complete("mltrail push ") == []


def test_a_reader_that_goes_away_is_not_an_error(empty_tree: Path) -> None:
    with mltrail.connect(empty_tree / "big.db") as opened:
        opened.put_artifact_type(mltrail.ArtifactType(name="D"))
        opened.put_artifacts(
            [mltrail.Artifact(type="D", name=f"n{i}", uri=f"/d/{i:06}") for i in range(3000)]
        )
    command = [sys.executable, "-m", "mltrail", "ls", "artifacts", "--all", "--csv"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [*command, "--store", str(empty_tree / "big.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.readline().startswith(b"id,type,name")
    child.stdout.close()  # as `head -1` does
    assert child.wait(timeout=60) == 0
    with child.stderr:
        assert child.stderr.read() == b""
