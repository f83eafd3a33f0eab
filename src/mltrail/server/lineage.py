"""The OpenLineage endpoint: ``POST /api/v1/lineage`` (and ``/p/<project>/api/v1/lineage``), where
OpenLineage producers send run events, as they do to Marquez. A shell over
:func:`mltrail.compat.openlineage.ingest` on the project's store.

The body is one run event (a JSON object, what OpenLineage's HTTP transport sends) or a list of
them (a batch, checked whole before anything is written). It needs a writer of the project. The
answer is ``201`` with ``{"ingested": {"events": N, "runs": ..., "new_runs": ..., "datasets":
..., "new_datasets": ...}}``; a malformed event is ``400 InvalidArgumentError`` naming it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from mltrail.remote._api import API_PREFIX
from mltrail.server._projects import DEFAULT_PROJECT, Projects

if TYPE_CHECKING:
    from mltrail.server.app import Guard


def router(projects: Projects, guard: Guard, max_body_bytes: int) -> APIRouter:
    """The route of the default project and of every other one."""
    from mltrail.server.app import parse_json, read_body

    api = APIRouter()
    doc = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "description": "An OpenLineage RunEvent, or a list of them",
                        "oneOf": [
                            {"type": "object"},
                            {"type": "array", "items": {"type": "object"}},
                        ],
                    }
                }
            },
        },
        "responses": {"201": {"description": "Recorded"}},
    }
    for prefix, documented in ((API_PREFIX, True), ("/p/{project}" + API_PREFIX, False)):

        @api.post(
            prefix + "/lineage",
            tags=["openlineage"],
            include_in_schema=documented,
            openapi_extra=doc,
            status_code=201,
        )
        async def lineage(request: Request) -> Response:
            """Record OpenLineage run events: jobs, runs, datasets and facets become execution
            types, executions, contexts, artifacts, events and properties (docs/openlineage.md)."""
            project = request.path_params.get("project", DEFAULT_PROJECT)
            # The token first: a request that may not write is refused before its body is read
            # (a server without authentication has nothing to check: no thread for it).
            if guard.registry is not None:
                await run_in_threadpool(guard.check, request, project, "writer")
            body = parse_json(await read_body(request, max_body_bytes))
            events: list[Any] = body if isinstance(body, list) else [body]

            def record() -> dict[str, int]:
                from mltrail.compat.openlineage import ingest

                return ingest(projects.store(project), events).to_json()

            report = await run_in_threadpool(record)
            return Response(
                json.dumps({"ingested": report}), status_code=201, media_type="application/json"
            )

    return api
