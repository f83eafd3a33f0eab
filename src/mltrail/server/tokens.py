"""Bearer tokens: who may read, write or administer which project.

A token grants one role on one project (``"*"``: every project). Roles are ordered: a
``reader`` reads, a ``writer`` also writes, an ``admin`` also manages the project's tokens, and an
admin of ``"*"`` creates projects. The secret is shown once, when the token is made; the registry
keeps only its SHA-256 digest (a token is 256 random bits, so a plain digest cannot be reversed),
and every request looks the digest up again, so a revoked token is refused at once, by every
server process.

The registry is a small SQL database of its own: a SQLite file ``<home>/server.db`` by default,
or a PostgreSQL/MySQL database shared by all replicas (``Settings.registry``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mltrail.errors import (
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from mltrail.server._projects import check_project_name

ROLES = ("reader", "writer", "admin")
ALL_PROJECTS = "*"
PREFIX = "mlt_"

_metadata = sa.MetaData()
_tokens = sa.Table(
    "mlt_server_token",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("project", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.String(255), nullable=False, default=""),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked_ms", sa.BigInteger, nullable=True),
)


@dataclass(frozen=True)
class Token:
    """A token as the registry records it (never its secret)."""

    id: int
    project: str
    role: str
    name: str
    created_ms: int
    revoked_ms: int | None = None

    def allows(self, project: str, role: str) -> bool:
        return self.project in (project, ALL_PROJECTS) and ROLES.index(self.role) >= ROLES.index(
            role
        )


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _role(role: str) -> str:
    if role not in ROLES:
        raise InvalidArgumentError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def _project(project: str) -> str:
    return project if project == ALL_PROJECTS else check_project_name(project)


class Registry:
    """The token registry in a SQL database (created on first use)."""

    def __init__(self, url: str) -> None:
        from mltrail.backends.sql.database import Database

        self._db = Database(url)
        self._db.run(lambda conn: _metadata.create_all(conn, checkfirst=True), write=True)
        self._lookup = sa.select(_tokens).where(_tokens.c.digest == sa.bindparam("digest"))

    def close(self) -> None:
        self._db.close()

    def create(self, project: str, role: str, name: str = "") -> tuple[str, Token]:
        """A new token: its secret (to give to its user, shown only now) and its record."""
        project, role = _project(project), _role(role)
        if not isinstance(name, str) or len(name) > 255:
            raise InvalidArgumentError("a token's name must be a string of at most 255 characters")
        secret = PREFIX + secrets.token_urlsafe(32)
        now = int(time.time() * 1000)
        row = {
            "digest": digest(secret),
            "project": project,
            "role": role,
            "name": name,
            "created_ms": now,
        }

        def insert(conn: sa.Connection) -> int:
            key = conn.execute(sa.insert(_tokens).values(row)).inserted_primary_key
            assert key is not None
            return int(key[0])

        token_id = self._db.run(insert, write=True)
        return secret, Token(token_id, project, role, name, now)

    def list(self, project: str | None = None) -> list[Token]:
        """Every token (of ``project`` when given), revoked ones included, by id."""
        query = sa.select(_tokens).order_by(_tokens.c.id)
        if project is not None:
            query = query.where(_tokens.c.project == project)
        rows = self._db.run(lambda conn: conn.execute(query).mappings().all(), write=False)
        return [_token(row) for row in rows]

    def get(self, token_id: int) -> Token:
        query = sa.select(_tokens).where(_tokens.c.id == token_id)
        row = self._db.run(lambda conn: conn.execute(query).mappings().first(), write=False)
        if row is None:
            raise NotFoundError(f"there is no token {token_id}")
        return _token(row)

    def revoke(self, token_id: int) -> Token:
        """Revoke a token: every request that carries it is refused from now on."""
        if isinstance(token_id, bool) or not isinstance(token_id, int):
            raise InvalidArgumentError(f"a token id is an int, got {token_id!r}")
        now = int(time.time() * 1000)

        def update(conn: sa.Connection) -> None:
            conn.execute(
                sa.update(_tokens)
                .where(_tokens.c.id == token_id, _tokens.c.revoked_ms.is_(None))
                .values(revoked_ms=now)
            )

        self.get(token_id)
        self._db.run(update, write=True)
        return self.get(token_id)

    def authenticate(self, authorization: str | None) -> Token:
        """The live token of an ``Authorization: Bearer <token>`` header."""
        if not authorization:
            raise UnauthenticatedError(
                "this server needs a token: send 'Authorization: Bearer <token>' (the remote "
                "client: mltrail.connect(url, token=...) or $MLTRAIL_TOKEN)"
            )
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise UnauthenticatedError("the Authorization header must be 'Bearer <token>'")
        row = self._db.run(
            lambda conn: conn.execute(self._lookup, {"digest": digest(secret.strip())}).first(),
            write=False,
        )
        if row is None or row.revoked_ms is not None:
            raise UnauthenticatedError(
                "the token is not valid (unknown or revoked); ask an admin of the project for "
                "a token (mltrail token create)"
            )
        return _token(row._mapping)

    def authorize(self, authorization: str | None, project: str, role: str) -> Token:
        """The token of the request if it grants ``role`` on ``project``."""
        token = self.authenticate(authorization)
        if not token.allows(project, role):
            where = (
                "every project" if token.project == ALL_PROJECTS else f"project {token.project!r}"
            )
            raise PermissionDeniedError(
                f"this token is {_a(token.role)} of {where}; this call needs {_a(role)} of "
                f"project {project!r}"
            )
        return token


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def _token(row: Any) -> Token:
    return Token(
        id=int(row["id"]),
        project=str(row["project"]),
        role=str(row["role"]),
        name=str(row["name"] or ""),
        created_ms=int(row["created_ms"]),
        revoked_ms=None if row["revoked_ms"] is None else int(row["revoked_ms"]),
    )
