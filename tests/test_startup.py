"""Start-up: ``import mltrail`` loads no database machinery, and opening a store loads the
migration machinery (Alembic) only when a migration runs.

Each check runs in a fresh interpreter, where nothing is imported yet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import mltrail
from _servers import SERVERS, Server, need
from mltrail import query, store, tracking
from mltrail.backends.sql.migrations import library_schema_version

#: The directory holding the mltrail package under test, for the child interpreters.
SOURCE = str(Path(mltrail.__file__).resolve().parents[1])

HEAVY = ("sqlalchemy", "alembic", "lark", "mltrail.store", "mltrail.tracking")


def run_python(code: str, *args: str) -> Any:
    """Run ``code`` in a new interpreter (``argv[1:]`` = ``args``); returns the JSON it prints."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SOURCE, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


LOADED = f"{{m: m in sys.modules for m in {HEAVY!r}}}"


def test_import_mltrail_loads_no_database_machinery() -> None:
    loaded = run_python(f"import json, sys, mltrail; print(json.dumps({LOADED}))")
    assert loaded == dict.fromkeys(HEAVY, False)


def test_lazy_names_load_their_modules_on_first_use() -> None:
    code = f"""
import json, sys, mltrail
before = {LOADED}
names = {{"store": mltrail.MetadataStore.__module__, "tracker": mltrail.Tracker.__module__,
         "fingerprint": mltrail.Fingerprint.__module__}}
from mltrail import Tracker
print(json.dumps([before["mltrail.store"], names, "mltrail.store" in sys.modules,
                  Tracker is mltrail.Tracker, "MetadataStore" in vars(mltrail)]))
"""
    before, names, after, same, cached = run_python(code)
    assert before is False and after is True and same is True and cached is True
    assert names == {
        "store": "mltrail.store.metadata_store",
        "tracker": "mltrail.tracking.tracker",
        "fingerprint": "mltrail.query.fingerprint",
    }


def test_lazy_names_are_the_modules_objects() -> None:
    from mltrail.query import fingerprint

    assert mltrail.MetadataStore is store.MetadataStore
    assert mltrail.Tracker is tracking.Tracker
    assert mltrail.Fingerprint is fingerprint.Fingerprint
    assert query is not None  # the package itself stays importable on its own
    assert set(mltrail.__all__) <= set(dir(mltrail))


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'mltrail' has no attribute 'Nothing'"):
        mltrail.Nothing  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(mltrail, "connects")


OPEN = """
import json, sys, mltrail
url = sys.argv[1] or None
with mltrail.connect(url) as opened:
    kind = opened.put_artifact_type(mltrail.ArtifactType(name="Startup"))
    found = opened.get_artifact_types()
    version = opened.schema_version
print(json.dumps([version, "alembic" in sys.modules, [t.name for t in found]]))
"""


def test_opening_an_up_to_date_store_does_not_import_alembic(
    backend: str, empty_url: str | None
) -> None:
    library = library_schema_version()
    if empty_url is None:
        # An in-memory store is new every time: made from the shipped schema template.
        assert run_python(OPEN, "") == [library, False, ["Startup"]]
        return
    mltrail.connect(empty_url).close()  # up to date from here on
    assert run_python(OPEN, empty_url) == [library, False, ["Startup"]]


def test_creating_a_sqlite_store_replays_the_template_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert run_python(OPEN, url) == [library_schema_version(), False, ["Startup"]]
    assert run_python(OPEN, url)[1] is False  # and then it is up to date


@pytest.mark.parametrize("kind", SERVERS)
def test_creating_a_server_store_runs_the_migrations_with_alembic(
    kind: str, servers: dict[str, Server]
) -> None:
    server = servers[kind]
    need(server)
    url = server.new_database("startup")
    assert run_python(OPEN, url) == [library_schema_version(), True, ["Startup"]]


def test_questions_without_a_filter_do_not_import_the_filter_machinery(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    with mltrail.connect(url) as opened:
        opened.put_artifact_type(mltrail.ArtifactType(name="Data"))
        [a] = opened.put_artifacts([mltrail.Artifact(type="Data", uri="/a", name="a")])
    code = f"""
import json, sys, mltrail
with mltrail.connect({url!r}) as opened:
    listed = [a.name for a in opened.get_artifacts(list_options=mltrail.ListOptions(limit=1))]
    counted = opened.count_artifacts_by_type()
    walked = len(opened.get_provenance({a}).artifacts)
    before = "lark" in sys.modules
    filtered = [a.name for a in opened.get_artifacts(filter_query="name = 'a'")]
print(json.dumps([listed, counted, walked, before, "lark" in sys.modules, filtered]))
"""
    assert run_python(code) == [["a"], {"Data": 1}, 1, False, True, ["a"]]


def test_the_first_filter_query_builds_no_parser_from_the_grammar() -> None:
    code = """
import json, sys, lark
def refuse(*args, **kwargs):
    raise AssertionError("the parser was built from the grammar")
lark.Lark.__init__ = refuse
import mltrail
with mltrail.connect() as opened:
    kind = opened.put_artifact_type(mltrail.ArtifactType(name="Data"))
    opened.put_artifacts([mltrail.Artifact(type_id=kind, uri="/a", name="a")])
    found = opened.get_artifacts(filter_query="name LIKE 'a%' AND uri = '/a'")
print(json.dumps([a.name for a in found]))
"""
    assert run_python(code) == ["a"]


#: Libraries the mltrail modules import, loaded once by the process that forks the children of
#: the next test (none of them imports mltrail; a cycle among mltrail's modules is what it seeks).
PRELOADED = (
    "sqlalchemy",
    "sqlalchemy.dialects.mysql",
    "sqlalchemy.dialects.postgresql",
    "alembic.operations",
    "fastapi",
    "httpx",
    "lark",
    "click",
    "rich.console",
    "jinja2",
    "fsspec",
    "uvicorn",
)

FORK_EACH = """
import importlib, json, os, sys, traceback
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
assert not any(m.split(".")[0] == "mltrail" for m in sys.modules), "a library imported mltrail"
failed = []
for module in json.loads(sys.argv[2]):
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(module)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        failed.append(module)
print(json.dumps(failed))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a child per module")
def test_every_module_imports_first_in_a_fresh_process() -> None:
    # Lazy imports change the order modules load in; a cycle shows only when a module that
    # takes part in it is the first one imported (as `from mltrail.tracking import Tracker` is).
    # Each module is imported first in a child forked from one process that holds the
    # libraries only: a fresh interpreter per module cost ~150 interpreters' start-up at once.
    package = Path(mltrail.__file__).resolve().parent
    modules = sorted(
        "mltrail." + ".".join(path.relative_to(package).with_suffix("").parts)
        for path in package.rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")  # __main__ is a program
    )
    assert len(modules) > 100
    failed = run_python(FORK_EACH, json.dumps(PRELOADED), json.dumps(modules))
    assert failed == [], "these modules fail when imported first"
