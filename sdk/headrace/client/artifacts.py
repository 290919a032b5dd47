"""`/artifacts`: what runs publish (reports, tables, links, progress, images)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.client.transport import segment
from headrace.schemas.artifacts import Artifact, ArtifactCreate, ArtifactQuery, ArtifactUpdate

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

ARTIFACTS = TypeAdapter(list[Artifact])


def create(client: HeadraceClient, body: ArtifactCreate) -> Artifact:
    return client.call("POST", "/artifacts", Artifact, body)


def read(client: HeadraceClient, artifact_id: uuid.UUID) -> Artifact:
    return client.call("GET", f"/artifacts/{artifact_id}", Artifact)


def read_latest(client: HeadraceClient, key: str) -> Artifact:
    """The newest artifact under `key`."""
    return client.call("GET", f"/artifacts/latest/{segment(key)}", Artifact)


def list_artifacts(client: HeadraceClient, query: ArtifactQuery) -> list[Artifact]:
    return client.call_list("GET", "/artifacts", ARTIFACTS, query=query)


def update(client: HeadraceClient, artifact_id: uuid.UUID, body: ArtifactUpdate) -> Artifact:
    return client.call("PATCH", f"/artifacts/{artifact_id}", Artifact, body, patch=True)


def delete(client: HeadraceClient, artifact_id: uuid.UUID) -> None:
    client.send("DELETE", f"/artifacts/{artifact_id}")


def delete_key(client: HeadraceClient, key: str) -> None:
    """Delete every artifact under `key`."""
    client.send("DELETE", f"/artifacts/key/{segment(key)}")
