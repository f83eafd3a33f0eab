"""``mltrail remote``, ``push``, ``pull`` and ``sync`` on real SQLite stores, bundle files and one
real server with authentication."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import mltrail as m
from _canon import canon
from _remote import RemoteServer, free_port
from mltrail.cli.main import main
from mltrail.server.tokens import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def log_runs(store: m.MetadataStore, *runs: str) -> None:
    """One training run per name in pipeline ``mnist``: the shared dataset in, a model out."""
    store.put_artifact_type(m.ArtifactType(name="Dataset"))
    store.put_artifact_type(m.ArtifactType(name="Model"))
    store.put_execution_type(m.ExecutionType(name="Train"))
    store.put_context_type(m.ContextType(name="Pipeline"))
    for run in runs:
        store.put_execution(
            m.Execution(type="Train", custom_properties={"run": run}),
            [
                (
                    m.Artifact(type="Dataset", uri="s3://d/src", external_id="sha256:src"),
                    m.Event(type=m.EventType.INPUT),
                ),
                (m.Artifact(type="Model", uri=f"s3://m/{run}"), m.Event(type=m.EventType.OUTPUT)),
            ],
            [m.Context(type="Pipeline", name="mnist")],
            reuse_context_if_already_exist=True,
            reuse_artifact_if_already_exist_by_external_id=True,
        )


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def ok(*args: str, env: dict[str, str | None] | None = None) -> Result:
    result = run(*args, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def failed(*args: str, env: dict[str, str | None] | None = None, code: int = 1) -> str:
    """The one error line of a command that failed."""
    result = run(*args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    if code == 1:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return result.stderr


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working tree of its own (the current directory), with no store chosen by the
    environment."""
    root = tmp_path / "tree"
    root.mkdir()
    (root / ".git").mkdir()  # the root of a work tree
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLTRAIL_STORE", raising=False)
    monkeypatch.delenv("MLTRAIL_TOKEN", raising=False)
    return root


@pytest.fixture
def site(tree: Path) -> Iterator[m.MetadataStore]:
    """The working tree's default store, with two runs."""
    (tree / ".mltrail").mkdir()
    with m.connect(str(tree / ".mltrail" / "mltrail.db")) as store:
        log_runs(store, "run-1", "run-2")
        yield store


def config(tree: Path) -> dict[str, object]:
    return tomllib.loads((tree / ".mltrail" / "config.toml").read_text())


# -------------------------------------------------------------------------------- remotes


def test_remotes_are_added_listed_and_removed(tree: Path) -> None:
    assert ok(
        "remote", "add", "central", "http://ml.example.org:8765/p/vision/"
    ).stdout.strip() == ("remote central added (metadata): http://ml.example.org:8765/p/vision")
    ok("remote", "add", "backup", "../backup.db", "--token-env", "UNUSED_TOKEN")
    assert config(tree) == {
        "remote": {
            "central": {"url": "http://ml.example.org:8765/p/vision"},
            "backup": {"url": str(tree.parent / "backup.db"), "token_env": "UNUSED_TOKEN"},
        }
    }
    assert ok("remote", "list").stdout.splitlines() == [
        f"backup\tmetadata\t{tree.parent / 'backup.db'}\t-\ttoken from $UNUSED_TOKEN",
        "central\tmetadata\thttp://ml.example.org:8765/p/vision\t-",
    ]
    listed = json.loads(ok("remote", "list", "--json").stdout)
    assert [r["name"] for r in listed] == ["backup", "central"]
    assert listed[1] == {
        "name": "central",
        "kind": "metadata",
        "url": "http://ml.example.org:8765/p/vision",
        "token_env": None,
        "data": None,
        "data_options": {},
    }
    ok("remote", "remove", "backup")
    assert list(config(tree)["remote"]) == ["central"]  # type: ignore[call-overload]
    assert (tree / ".mltrail" / ".gitignore").exists()  # the remote list is never committed


def test_remote_mistakes_are_one_line_errors(tree: Path) -> None:
    ok("remote", "add", "central", "http://127.0.0.1:8765")
    assert "AlreadyExistsError: remote 'central' exists already" in failed(
        "remote", "add", "central", "http://elsewhere"
    )
    assert "remote name 'no/slash' is not valid" in failed("remote", "add", "no/slash", "x.db")
    assert "not an environment variable name" in failed(
        "remote", "add", "other", "http://h", "--token-env", "1BAD"
    )
    assert "holds credentials" in failed("remote", "add", "other", "https://me:secret@h/")
    assert "it has no host" in failed("remote", "add", "other", "http:///p/x")
    message = failed("remote", "remove", "nothere")
    assert "NotFoundError: there is no remote named 'nothere' (known remotes: central)" in message
    assert "secret" not in (tree / ".mltrail" / "config.toml").read_text()


def test_remotes_with_data_ends(tree: Path, site: m.MetadataStore) -> None:
    (tree / "shelf").mkdir()
    added = ok("remote", "add", "shelf", "shelf").stdout.strip()
    assert added == f"remote shelf added (data): data {tree / 'shelf'}"
    ok(
        "remote",
        "add",
        "central",
        "central.db",
        "--data",
        "s3://ml-artifacts/vision",
        "--option",
        "endpoint_url=http://127.0.0.1:8333",
        "--option",
        "use_ssl=false",
    )
    ok("remote", "add", "later", "later-bytes", "--kind", "data")  # a directory to be made
    assert config(tree)["remote"] == {
        "shelf": {"data": str(tree / "shelf")},
        "central": {
            "url": str(tree / "central.db"),
            "data": "s3://ml-artifacts/vision",
            "data_options": {"endpoint_url": "http://127.0.0.1:8333", "use_ssl": False},
        },
        "later": {"data": str(tree / "later-bytes")},
    }
    assert ok("remote", "list").stdout.splitlines() == [
        f"central\tboth\t{tree / 'central.db'}\ts3://ml-artifacts/vision",
        f"later\tdata\t-\t{tree / 'later-bytes'}",
        f"shelf\tdata\t-\t{tree / 'shelf'}",
    ]
    listed = json.loads(ok("remote", "list", "--json").stdout)
    assert [(r["name"], r["kind"]) for r in listed] == [
        ("central", "both"),
        ("later", "data"),
        ("shelf", "data"),
    ]
    assert listed[0]["data_options"] == {"endpoint_url": "http://127.0.0.1:8333", "use_ssl": False}
    # sync takes the only remote with a metadata end, and refuses data ends
    assert "1 batch(es)" in ok("push").stdout
    assert "remote 'shelf' is data-only" in failed("push", "shelf")
    assert "is a data end" in failed("pull", "s3://ml-artifacts/vision")
    assert "is a data end" in failed("sync", str(tree / "shelf"))
    assert "is a credential" in failed("remote", "add", "x", "s3://b", "--option", "secret=s")
    assert "expected KEY=VALUE" in failed("remote", "add", "x", "s3://b", "--option", "oops")
    assert "Invalid value for '--kind'" in failed("remote", "add", "x", "y", "--kind", "z", code=2)
    assert ok("remote", "remove", "later").stdout.strip() == (
        f"remote later removed ({tree / 'later-bytes'})"
    )


def test_a_broken_config_file_is_named(tree: Path) -> None:
    (tree / ".mltrail").mkdir()
    (tree / ".mltrail" / "config.toml").write_text("[remote.central\n")
    assert "config.toml is not a valid mltrail config" in failed("remote", "list")
    (tree / ".mltrail" / "config.toml").write_text("[remote.central]\nuri = 'typo'\n")
    assert "[remote.central] needs url" in failed("push")


# ------------------------------------------------------------------------------ transfers


def test_push_and_pull_between_store_files(tree: Path, site: m.MetadataStore) -> None:
    pushed = ok("push", "central.db")
    [line] = pushed.stdout.splitlines()
    assert line.startswith(
        f"SQLite file {tree / '.mltrail' / 'mltrail.db'} -> SQLite file central.db: "
    )
    assert "1 batch(es)" in line and "6 created" in line
    assert "0 batch(es)" in ok("push", "central.db").stdout  # nothing new
    # $MLTRAIL_STORE chooses this side when --store does not
    refused = failed("push", "central.db", env={"MLTRAIL_STORE": "central.db"})
    assert "are the same store" in refused
    ok("remote", "add", "central", "central.db")
    pulled = ok("pull", "--store", "other.db")  # the only remote
    assert "6 created" in pulled.stdout
    with m.connect("other.db") as other:
        assert canon(other) == canon(site)


def test_subsets_and_batch_sizes(tree: Path, site: m.MetadataStore) -> None:
    [model] = [a for a in site.get_artifacts() if a.uri == "s3://m/run-1"]
    ok("push", "lineage.db", "--artifact", str(model.id))
    with m.connect("lineage.db") as lineage:
        assert {a.uri for a in lineage.get_artifacts()} == {"s3://d/src", "s3://m/run-1"}
    [pipeline] = site.get_contexts()
    by_name = ok("push", "pipeline.db", "--context", "mnist", "--batch-size", "2").stdout
    assert "3 batch(es)" in by_name  # 1 context, 2 executions, 3 artifacts
    by_id = ok(
        "pull",
        str(tree / ".mltrail" / "mltrail.db"),
        "--store",
        "again.db",
        "--context",
        str(pipeline.id),
    )
    assert "6 created" in by_id.stdout
    assert "choose one subset" in failed(
        "push", "x.db", "--context", "mnist", "--artifact", "1", code=2
    )
    assert "no context named 'nope'" in failed("push", "x.db", "--context", "nope")
    assert "Invalid value for '--batch-size'" in failed("push", "x.db", "--batch-size", "0", code=2)


def test_a_bundle_carries_a_push_to_a_pull(tree: Path, site: m.MetadataStore) -> None:
    assert "carry.mltrail" in ok("push", "--to", "carry.mltrail").stdout
    assert (tree / "carry.mltrail").stat().st_size > 0
    ok("pull", "carry.mltrail", "--store", "elsewhere.db")
    with m.connect("elsewhere.db") as elsewhere:
        assert canon(elsewhere) == canon(site)
    assert "give REMOTE or --to FILE, not both" in failed(
        "push", "x.db", "--to", "y.mltrail", code=2
    )
    assert "a bundle is not synced" in failed("sync", "carry.mltrail", code=2)


def test_a_bundle_is_pushed_into_again(tree: Path, site: m.MetadataStore) -> None:
    ok("push", "--to", "carry.mltrail")
    log_runs(site, "run-3")
    ok("push", "--to", "carry.mltrail")
    ok("pull", "carry.mltrail", "--store", "elsewhere.db")
    with m.connect("elsewhere.db") as elsewhere:
        assert canon(elsewhere) == canon(site)


def test_which_remote_when_none_is_named(tree: Path, site: m.MetadataStore) -> None:
    assert "no remote is configured" in failed("push")
    assert "there is no remote named 'central' (known remotes: none is configured)" in failed(
        "pull", "central"
    )
    ok("remote", "add", "one", "one.db")
    ok("remote", "add", "two", "two.db")
    assert "2 remotes are configured (one, two): name the one to use" in failed("push")
    ok("push", "two")
    with m.connect("two.db") as two:
        assert two.count_executions() == 2


def test_sync_pushes_then_pulls(tree: Path, site: m.MetadataStore) -> None:
    with m.connect("peer.db") as peer:
        log_runs(peer, "run-9")
    sent, received = ok("sync", "peer.db").stdout.splitlines()
    # the dataset (same digest) and the pipeline (same name) are merged, not made twice
    assert " -> SQLite file peer.db: 1 batch(es), 6 record(s)" in sent and "4 created" in sent
    assert received.startswith("SQLite file peer.db -> ") and "2 created" in received
    with m.connect("peer.db") as peer:
        assert canon(peer) == canon(site)
        assert peer.count_executions() == 3


def test_the_progress_bar_draws_what_has_moved() -> None:
    from rich.console import Console

    from mltrail.cli.sync import progress_bar
    from mltrail.sync import Report

    out = io.StringIO()
    with progress_bar(Console(file=out, force_terminal=True, width=150)) as progress:
        progress(Report("site.db", "http://central", batches=3, records=7, bytes=2048))
    assert "site.db -> http://central" in out.getvalue()
    assert "3 batch(es), 7 record(s)" in out.getvalue()
    quiet = io.StringIO()
    with progress_bar(Console(file=quiet)) as progress:  # not a terminal: nothing drawn
        progress(Report("a", "b", batches=1))
    assert quiet.getvalue() == ""


def test_the_command_line_starts_without_the_sync_machinery() -> None:
    code = (
        "import json, sys; import mltrail.cli.main; "
        "heavy = ('rich', 'mltrail.sync', 'sqlalchemy', 'tomli_w'); "
        "print(json.dumps([m in sys.modules for m in heavy]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [False, False, False, False]
    help_text = ok("--help").stdout
    for command in ("push", "pull", "sync", "remote"):
        assert f"  {command} " in help_text


# ------------------------------------------------- one server (auth_central, tests/cli/conftest.py)


def test_push_pull_and_sync_with_a_server(
    tree: Path, site: m.MetadataStore, auth_central: tuple[RemoteServer, Registry]
) -> None:
    central, registry = auth_central
    writer = registry.create("default", "writer", "cli")[0]
    reader = registry.create("default", "reader", "cli")[0]
    ok("remote", "add", "central", central.url, "--token-env", "CENTRAL_TOKEN")
    assert "remote 'central' takes its token from $CENTRAL_TOKEN, which is not set" in failed(
        "push"
    )
    refused = failed("push", env={"CENTRAL_TOKEN": reader})
    assert "PermissionDeniedError" in refused and "needs a writer" in refused
    assert f"-> {central.url}: 1 batch(es)" in ok("push", env={"CENTRAL_TOKEN": writer}).stdout
    pulled = ok("pull", "--store", "mirror.db", env={"CENTRAL_TOKEN": reader})
    assert f"{central.url} -> SQLite file mirror.db" in pulled.stdout
    with m.connect("mirror.db") as mirror:
        assert canon(mirror) == canon(site)
    # a URL given as it is takes $MLTRAIL_TOKEN
    log_runs(site, "run-3")
    synced = ok("sync", central.url, env={"MLTRAIL_TOKEN": writer}).stdout.splitlines()
    assert len(synced) == 2 and "2 created" in synced[0]
    assert "UnauthenticatedError" in failed("pull", central.url, "--store", "mirror.db")


def test_sync_every_repeats_until_interrupted(
    tree: Path, site: m.MetadataStore, auth_central: tuple[RemoteServer, Registry]
) -> None:
    central, registry = auth_central
    writer = registry.create("default", "writer", "federation")[0]
    env = {**os.environ, "MLTRAIL_TOKEN": writer}
    command = [
        sys.executable,
        "-m",
        "mltrail",
        "sync",
        central.url,
        "--every",
        "0.2",
        "--store",
        "peer.db",
    ]
    with m.connect("peer.db") as peer:
        log_runs(peer, "peer-run")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]  # two rounds
        assert all(" -> " in line for line in lines), lines
        with m.connect("peer.db") as peer:
            log_runs(peer, "later-run")  # written while it runs: the next round sends it
        with m.connect(central.store) as store:  # type: ignore[arg-type]
            deadline = time.monotonic() + 30
            while not store.get_executions(filter_query="custom_properties.run = 'later-run'"):
                assert time.monotonic() < deadline, "the change never reached the server"
                time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert stderr.strip().endswith("stopped") and "Traceback" not in stderr


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_sync_loop_after_its_round(number: int) -> None:
    from mltrail.cli.sync import _stopped_by_signal

    before = signal.getsignal(number)
    with _stopped_by_signal() as stop:
        os.kill(os.getpid(), number)  # the first: the round under way goes on
        started = time.monotonic()
        stop.wait(30)  # returns at once, since the stop is requested
        assert stop.is_set() and time.monotonic() - started < 10
        with pytest.raises(KeyboardInterrupt):  # the second: at once
            os.kill(os.getpid(), number)
            time.sleep(5)
    assert signal.getsignal(number) is before


def test_sync_every_goes_on_while_the_peer_is_unreachable(tree: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    command = [sys.executable, "-m", "mltrail", "sync", url, "--every", "0.1", "--store", "peer.db"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        lines = [process.stderr.readline() for _ in range(2)]  # two failed rounds
        assert all(
            f"UnavailableError: cannot reach the mltrail server at {url}" in line for line in lines
        )
        assert all(line.rstrip().endswith("(again in 0.1 s)") for line in lines)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and stdout == ""
    assert stderr.strip().endswith("stopped") and "Traceback" not in stderr
