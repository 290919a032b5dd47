"""Artifacts: create, read, the latest of a key, filter, update (progress), delete."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping
from starlette.requests import Request
from starlette.responses import Response

from headrace.schemas.artifacts import (
    Artifact,
    ArtifactCreate,
    ArtifactQuery,
    ArtifactUpdate,
    check_artifact_data,
)
from headrace_service.api.deps import db, to_model
from headrace_service.api.routing import Router
from headrace_service.errors import InvalidInput, NotFoundError
from headrace_service.store import artifacts as store
from headrace_service.validation import parse_uuid

router = Router("artifacts")


@router.route(
    "POST", "/artifacts", scope="worker", body=ArtifactCreate, response=Artifact, status=201
)
async def create_artifact(request: Request, body: ArtifactCreate) -> Artifact:
    """Store an artifact (a keyed one adds to its key's history)."""
    async with db(request).begin() as conn:
        row = await store.artifact_create(conn, body)
    if row is None:
        raise InvalidInput(f"flow_run_id: no flow run with id {body.flow_run_id}")
    return to_model(Artifact, row)


@router.route("GET", "/artifacts", query=ArtifactQuery, response=list[Artifact])
async def list_artifacts(request: Request, query: ArtifactQuery) -> list[Artifact]:
    """Artifacts newest first, by key, flow run, task run or type."""
    async with db(request).begin() as conn:
        rows = await store.artifact_list(conn, query)
    return [to_model(Artifact, r) for r in rows]


@router.route("GET", "/artifacts/{artifact_id}", response=Artifact)
async def read_artifact(request: Request, artifact_id: str) -> Artifact:
    """One artifact by id."""
    aid = parse_uuid(artifact_id, "artifact")
    async with db(request).begin() as conn:
        row = await store.artifact_get(conn, aid)
    return to_model(Artifact, _found(row, f"no artifact with id {artifact_id}"))


@router.route("GET", "/artifacts/latest/{key}", response=Artifact)
async def read_latest_artifact(request: Request, key: str) -> Artifact:
    """The newest artifact under a key."""
    async with db(request).begin() as conn:
        row = await store.artifact_latest(conn, key)
    return to_model(Artifact, _found(row, f"no artifact with key {key!r}"))


@router.route(
    "PATCH",
    "/artifacts/{artifact_id}",
    scope="worker",
    body=ArtifactUpdate,
    response=Artifact,
)
async def update_artifact(request: Request, artifact_id: str, body: ArtifactUpdate) -> Artifact:
    """New data for an artifact (a progress bar moving on), checked against its type."""
    aid = parse_uuid(artifact_id, "artifact")
    async with db(request).begin() as conn:
        current = _found(await store.artifact_get(conn, aid), f"no artifact with id {aid}")
        try:
            check_artifact_data(current["type"], body.data)
        except ValueError as error:
            raise InvalidInput(f"data: {error}") from None
        row = await store.artifact_update(conn, aid, body.data, body.description)
    return to_model(Artifact, _found(row, f"no artifact with id {artifact_id}"))


@router.route("DELETE", "/artifacts/{artifact_id}", scope="admin", status=204)
async def delete_artifact(request: Request, artifact_id: str) -> Response:
    """Delete one artifact."""
    aid = parse_uuid(artifact_id, "artifact")
    async with db(request).begin() as conn:
        if not await store.artifact_delete(conn, aid):
            raise NotFoundError(f"no artifact with id {artifact_id}")
    return Response(status_code=204)


@router.route("DELETE", "/artifacts/key/{key}", scope="admin", status=204)
async def delete_artifact_key(request: Request, key: str) -> Response:
    """Delete every artifact under a key (its whole history)."""
    async with db(request).begin() as conn:
        if not await store.artifact_delete_key(conn, key):
            raise NotFoundError(f"no artifact with key {key!r}")
    return Response(status_code=204)


def _found(row: RowMapping | None, message: str) -> RowMapping:
    if row is None:
        raise NotFoundError(message)
    return row
