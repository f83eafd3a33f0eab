"""Sync routes: a project's store as one end of a transfer (:class:`mltrail.sync._peers.Peer`).

Each route is a shell over :class:`~mltrail.sync._peers.StorePeer` of the project's store, the
same object a local push or pull uses, so a transfer over HTTP merges exactly like one between
two files. Reading the store's site, positions, changes and subsets needs a reader of the
project; applying a batch needs a writer. The remote end is :class:`mltrail.sync._http.HttpPeer`.

- ``GET  sync/site`` -> ``{"site": "<uuid>"}``
- ``GET  sync/applied?site=<uuid>`` -> ``{"position": N}``
- ``POST sync/changes`` ``{"since": N, "exclude": "<uuid>" | null, "limit": N}`` -> one batch
- ``POST sync/subset`` ``{"selection": {...}, "limit": N}`` -> batches, one per line (NDJSON)
- ``POST sync/apply`` (a batch) -> ``{"applied": {"records": ..., ...}}``
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mltrail.errors import InvalidArgumentError
from mltrail.remote._api import API_PREFIX
from mltrail.server._projects import DEFAULT_PROJECT, Projects
from mltrail.sync._peers import FROM_HEADER, TO_HEADER

if TYPE_CHECKING:
    from mltrail.server.app import Guard
    from mltrail.sync._peers import StorePeer

#: The largest body of a request for changes or a subset (bytes): a few numbers and a name.
QUERY_BODY_LIMIT = 16 * 1024
#: The most feed rows (or chosen entities) one batch may be asked for.
MAX_LIMIT = 10_000

BATCH = "application/json"
BATCHES = "application/x-ndjson"
_SELECTIONS = ("context", "artifact", "execution")


def router(projects: Projects, guard: Guard, max_body_bytes: int) -> APIRouter:
    """The sync routes of the default project (``/api/v1/sync/...``) and of every other
    project (``/p/<project>/api/v1/sync/...``)."""
    api = APIRouter()
    for prefix, documented in ((API_PREFIX, True), ("/p/{project}" + API_PREFIX, False)):
        _routes(api, prefix + "/sync", documented, projects, guard, max_body_bytes)
    return api


def _routes(
    api: APIRouter,
    prefix: str,
    documented: bool,
    projects: Projects,
    guard: Guard,
    max_body_bytes: int,
) -> None:
    from mltrail.server.app import parse_json, read_body

    def peer(request: Request, role: str) -> StorePeer:
        """The project's store as a peer, once the token may act as ``role`` on it."""
        project = request.path_params.get("project", DEFAULT_PROJECT)
        guard.check(request, project, role)
        store = projects.store(project)
        from mltrail.sync._peers import StorePeer

        return StorePeer(store)

    async def query_body(request: Request) -> dict[str, Any]:
        data = parse_json(await read_body(request, QUERY_BODY_LIMIT))
        if type(data) is not dict:
            raise InvalidArgumentError("the request body must be a JSON object")
        return data

    common: dict[str, Any] = {"tags": ["sync"], "include_in_schema": documented}

    @api.get(prefix + "/site", **common, openapi_extra=_answer(_SITE))
    async def site(request: Request) -> Response:
        """This store's site id: the identity of its changes in every other store."""
        found = await run_in_threadpool(lambda: peer(request, "reader").site())
        return _json({"site": found})

    @api.get(prefix + "/applied", **common, openapi_extra=_answer(_POSITION))
    async def applied(request: Request, site: str) -> Response:
        """The position of site ``site``'s change feed that this store has applied (0: none).
        A push sends what follows it."""
        _uuid(site, "site")
        found = await run_in_threadpool(lambda: peer(request, "reader").applied(site))
        return _json({"position": found})

    @api.post(prefix + "/changes", **common, openapi_extra=_changes_doc())
    async def changes(request: Request) -> Response:
        """One batch of this store's changes after feed position ``since`` (at most ``limit``
        feed rows), without those received from site ``exclude`` (the asker: it has them).
        The batch's ``to`` is where the next request starts; a batch whose ``to`` is ``since``
        means there is nothing more."""
        data = await query_body(request)
        _keys(data, {"since", "limit"}, {"exclude"})
        since = _int(data["since"], "since", 0)
        limit = _int(data["limit"], "limit", 1, MAX_LIMIT)
        exclude = data.get("exclude")
        if exclude is not None:
            _uuid(exclude, "exclude")
        found = await run_in_threadpool(
            lambda: peer(request, "reader").changes(since, exclude, limit)
        )
        headers = {FROM_HEADER: str(found.start), TO_HEADER: str(found.end)}
        return Response(found.data, media_type=BATCH, headers=headers)

    @api.post(prefix + "/subset", **common, openapi_extra=_subset_doc())
    async def subset(request: Request) -> Response:
        """The batches of a chosen part of the store: a pipeline (``{"context": id or name}``:
        the context, its descendants and their members) or the upstream lineage of a node
        (``{"artifact": id}``, ``{"execution": id}``), at most ``limit`` entities each, one
        batch per line."""
        data = await query_body(request)
        _keys(data, {"selection", "limit"})
        selection = _selection(data["selection"])
        limit = _int(data["limit"], "limit", 1, MAX_LIMIT)
        found = await run_in_threadpool(lambda: peer(request, "reader").subset(selection, limit))
        return StreamingResponse((line + b"\n" for line in found), media_type=BATCHES)

    @api.post(prefix + "/apply", **common, openapi_extra=_apply_doc())
    async def apply(request: Request) -> Response:
        """Merge a batch of another store's changes, in one transaction; a conflict refuses
        the whole batch (``SyncConflictError`` with its ``conflicts``)."""
        # The token is checked before the body is read: a request that may not write is
        # refused before it can make the server read megabytes.
        target = await run_in_threadpool(peer, request, "writer")
        body = await read_body(request, max_body_bytes)
        done = await run_in_threadpool(target.apply, body)
        return _json({"applied": dataclasses.asdict(done)})


def _json(value: Any) -> Response:
    import json

    return Response(json.dumps(value), media_type="application/json")


# ------------------------------------------------------------------------- checking requests


def _keys(
    data: dict[str, Any], required: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> None:
    missing, unknown = required - set(data), set(data) - required - optional
    if missing or unknown:
        wanted = ", ".join(sorted(required | optional))
        raise InvalidArgumentError(
            f"the request body takes {wanted}; missing {sorted(missing)}, unknown {sorted(unknown)}"
        )


def _int(value: Any, name: str, low: int, high: int = 2**63 - 1) -> int:
    if type(value) is not int or not low <= value <= high:
        raise InvalidArgumentError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _uuid(value: Any, name: str) -> str:
    try:
        if isinstance(value, str) and str(uuid.UUID(value)) == value:
            return value
    except ValueError:
        pass
    raise InvalidArgumentError(
        f"{name} must be a site id (a UUID in canonical form, as GET sync/site answers), got "
        f"{str(value)[:60]!r}"
    )


def _selection(value: Any) -> dict[str, Any]:
    usage = 'give one of {"context": <id or name>}, {"artifact": <id>}, {"execution": <id>}'
    if type(value) is not dict or len(value) != 1 or next(iter(value)) not in _SELECTIONS:
        raise InvalidArgumentError(f"selection must choose one part of the store: {usage}")
    [(key, chosen)] = value.items()
    if key == "context" and isinstance(chosen, str) and chosen:
        return {key: chosen}
    _int(chosen, f"selection.{key}", 1)
    return {key: chosen}


# --------------------------------------------------------------------------- the API document

_SITE = {
    "type": "object",
    "properties": {"site": {"type": "string", "format": "uuid"}},
    "required": ["site"],
}
_POSITION = {
    "type": "object",
    "properties": {"position": {"type": "integer", "minimum": 0}},
    "required": ["position"],
}
_BATCH_SCHEMA = {
    "type": "object",
    "description": "A batch in mltrail's sync format (docs/sync.md): its content and the "
    "SHA-256 digest of that content.",
    "properties": {"digest": {"type": "string"}, "batch": {"type": "object"}},
    "required": ["digest", "batch"],
}
_APPLIED = {
    "type": "object",
    "properties": {
        "applied": {
            "type": "object",
            "properties": {
                name: {"type": "integer"}
                for name in ("records", "created", "updated", "unchanged", "edges", "types")
            },
        }
    },
    "required": ["applied"],
}


def _answer(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"responses": {"200": {"description": "OK", "content": {media: {"schema": schema}}}}}


def _request(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media: {"schema": schema}}}}


def _changes_doc() -> dict[str, Any]:
    body = {
        "type": "object",
        "properties": {
            "since": {"type": "integer", "minimum": 0},
            "exclude": {"type": ["string", "null"], "format": "uuid"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        },
        "required": ["since", "limit"],
        "additionalProperties": False,
    }
    return {**_request(body), **_answer(_BATCH_SCHEMA, BATCH)}


def _subset_doc() -> dict[str, Any]:
    body = {
        "type": "object",
        "properties": {
            "selection": {
                "type": "object",
                "description": "exactly one of these",
                "properties": {
                    "context": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "artifact": {"type": "integer"},
                    "execution": {"type": "integer"},
                },
                "minProperties": 1,
                "maxProperties": 1,
            },
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        },
        "required": ["selection", "limit"],
        "additionalProperties": False,
    }
    return {**_request(body), **_answer(_BATCH_SCHEMA, BATCHES)}


def _apply_doc() -> dict[str, Any]:
    return {**_request(_BATCH_SCHEMA), **_answer(_APPLIED)}
