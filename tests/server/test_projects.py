"""Projects on every kind of store: SQLite files, PostgreSQL schemas, MySQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mltrail as m
from _remote import RemoteServer
from _servers import SERVERS, Server, need
from mltrail.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from mltrail.server._projects import Projects


@pytest.fixture(params=["sqlite-file", *SERVERS])
def default_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    kind = str(request.param)
    if kind == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'default.db'}"
        return
    servers: dict[str, Server] = request.getfixturevalue("servers")
    server = servers[kind]
    need(server)
    url = server.new_database("projects")
    yield url
    if kind == "mysql":  # the projects' databases are dropped with the session's own
        name = url.rsplit("/", 1)[1].split("?", 1)[0]
        with server.engine(url).connect() as conn:
            rows = conn.exec_driver_sql("SELECT schema_name FROM information_schema.schemata")
            server.databases += [r[0] for r in rows if str(r[0]).startswith(f"{name}_p_")]


@pytest.fixture
def projects(default_store: str, tmp_path: Path) -> Iterator[Projects]:
    found = Projects(default_store, tmp_path / "home")
    yield found
    found.close()


def test_projects_are_created_listed_and_isolated(projects: Projects) -> None:
    assert projects.names() == ["default"]
    projects.create("vision")
    projects.create("nlp-2")
    assert projects.names() == ["default", "nlp-2", "vision"]
    vision, nlp, default = (
        projects.store("vision"),
        projects.store("nlp-2"),
        projects.store("default"),
    )
    vision.put_artifact_type(m.ArtifactType(name="Image"))
    nlp.put_artifact_type(m.ArtifactType(name="Text"))
    assert [t.name for t in vision.get_artifact_types()] == ["Image"]
    assert [t.name for t in nlp.get_artifact_types()] == ["Text"]
    assert default.get_artifact_types() == []


def test_bad_and_duplicate_projects_are_refused(projects: Projects) -> None:
    projects.create("once")
    with pytest.raises(AlreadyExistsError):
        projects.create("once")
    with pytest.raises(AlreadyExistsError):
        projects.create("default")
    for bad in ("", "Upper", "a b", "-lead", "x" * 64, "../up"):
        with pytest.raises(InvalidArgumentError):
            projects.create(bad)
    with pytest.raises(NotFoundError, match="no project 'missing'"):
        projects.store("missing")
    assert projects.names() == ["default", "once"]


def test_a_reopened_project_reads_its_database_again(projects: Projects) -> None:
    projects.create("again")
    projects.store("again").put_artifact_type(m.ArtifactType(name="Kept"))
    projects.reopen("again")
    assert [t.name for t in projects.store("again").get_artifact_types()] == ["Kept"]
    with pytest.raises(NotFoundError):
        projects.reopen("missing")


@pytest.mark.parametrize("kind", SERVERS)
def test_a_server_on_a_database_server_serves_its_projects(
    kind: str, servers: dict[str, Server], tmp_path: Path
) -> None:
    database = servers[kind]
    need(database)
    url = database.new_database("served")
    server = RemoteServer(url, tmp_path / "home")
    try:
        created = server.http.post("/api/v1/projects", json={"name": "team-a"})
        assert created.status_code == 201, created.text
        with m.connect(f"{server.url}/p/team-a") as team, m.connect(server.url) as default:
            team.put_artifact_type(m.ArtifactType(name="OnlyInTeamA"))
            assert [t.name for t in team.get_artifact_types()] == ["OnlyInTeamA"]
            assert default.get_artifact_types() == []
        assert server.http.get("/api/v1/projects").json() == {"projects": ["default", "team-a"]}
    finally:
        server.close()
        if kind == "mysql":  # the project's database is dropped with the session's own
            name = url.rsplit("/", 1)[1].split("?", 1)[0]
            database.databases.append(f"{name}_p_team-a")
