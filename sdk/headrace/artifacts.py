"""Artifacts: what a run publishes for people (Prefect 3's `prefect.artifacts`).

    from headrace.artifacts import create_markdown_artifact, create_table_artifact

    @flow
    def report():
        create_markdown_artifact("# Done\\n3 files loaded", key="daily-report")

Each one is linked to the flow run and task run that made it (none outside a run). A `key`
keeps a history: every artifact made under it is kept, and the latest is the current one. Each
function returns the new artifact's id; in an async flow or task, await it (`acreate_...` are
the async forms). In a run recording nothing (no API reachable), nothing is stored and the id
returned names nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from typing import Any

from headrace.async_dispatch import async_dispatch
from headrace.run_api import caller

__all__ = [
    "acreate_image_artifact",
    "acreate_link_artifact",
    "acreate_markdown_artifact",
    "acreate_progress_artifact",
    "acreate_table_artifact",
    "aupdate_progress_artifact",
    "create_image_artifact",
    "create_link_artifact",
    "create_markdown_artifact",
    "create_progress_artifact",
    "create_table_artifact",
    "update_progress_artifact",
]

_logger = logging.getLogger("headrace.artifacts")
_offline_said = False

TableData = dict[str, list[Any]] | list[dict[str, Any]] | list[list[Any]]


def _store(kind: str, data: Any, key: str | None, description: str | None) -> uuid.UUID:
    # Here: schemas and the client load pydantic and httpx.
    from headrace.client import artifacts
    from headrace.schemas.artifacts import ArtifactCreate

    who = caller()
    body = ArtifactCreate(
        key=key,
        type=kind,  # type: ignore[arg-type]  # one of ArtifactType, checked by the model
        description=description,
        data=data,
        flow_run_id=who.flow_run_id,
        task_run_id=who.task_run_id,
    )
    if who.client is None:
        _say_offline()
        return uuid.uuid4()
    return artifacts.create(who.client, body).id


def _say_offline() -> None:
    global _offline_said
    if not _offline_said:
        _offline_said = True
        _logger.warning("this run records nothing (no headrace API): artifacts are not stored")


def _link_markdown(link: str, link_text: str | None) -> str:
    return f"[{link_text}]({link})" if link_text else f"[{link}]({link})"


def _without_nan(item: Any) -> Any:
    """NaN is not JSON: a table cell holding it (pandas' missing value) is stored empty."""
    if isinstance(item, list):
        return [_without_nan(x) for x in item]
    if isinstance(item, dict):
        return {k: _without_nan(v) for k, v in item.items()}
    if isinstance(item, float) and math.isnan(item):
        return None
    return item


def _clamped(progress: float) -> float:
    clamped = max(0.0, min(100.0, float(progress)))
    if clamped != progress:
        _logger.warning("progress %s is outside 0-100; storing %s", progress, clamped)
    return clamped


# -- markdown ------------------------------------------------------------------------------------


async def acreate_markdown_artifact(
    markdown: str, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    return await asyncio.to_thread(_store, "markdown", markdown, key, description)


@async_dispatch(acreate_markdown_artifact)
def create_markdown_artifact(
    markdown: str, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    """Publish markdown (shown rendered, sanitised, in the dashboard)."""
    return _store("markdown", markdown, key, description)


# -- link ----------------------------------------------------------------------------------------


async def acreate_link_artifact(
    link: str,
    link_text: str | None = None,
    key: str | None = None,
    description: str | None = None,
) -> uuid.UUID:
    markdown = _link_markdown(link, link_text)
    return await asyncio.to_thread(_store, "markdown", markdown, key, description)


@async_dispatch(acreate_link_artifact)
def create_link_artifact(
    link: str,
    link_text: str | None = None,
    key: str | None = None,
    description: str | None = None,
) -> uuid.UUID:
    """Publish a link (stored as markdown, as Prefect does)."""
    return _store("markdown", _link_markdown(link, link_text), key, description)


# -- table ---------------------------------------------------------------------------------------


async def acreate_table_artifact(
    table: TableData, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    return await asyncio.to_thread(_store, "table", _without_nan(table), key, description)


@async_dispatch(acreate_table_artifact)
def create_table_artifact(
    table: TableData, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    """Publish a table: a list of dicts (rows), a dict of lists (columns) or a list of lists."""
    return _store("table", _without_nan(table), key, description)


# -- progress ------------------------------------------------------------------------------------


async def acreate_progress_artifact(
    progress: float, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    return await asyncio.to_thread(_store, "progress", _clamped(progress), key, description)


@async_dispatch(acreate_progress_artifact)
def create_progress_artifact(
    progress: float, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    """Publish a progress bar at `progress` percent; move it with `update_progress_artifact`."""
    return _store("progress", _clamped(progress), key, description)


def _update_progress(artifact_id: uuid.UUID, progress: float, description: str | None) -> uuid.UUID:
    from headrace.client import artifacts
    from headrace.schemas.artifacts import ArtifactUpdate

    who = caller()
    if who.client is None:
        _say_offline()
        return artifact_id
    body = ArtifactUpdate(data=_clamped(progress))
    if description is not None:
        body.description = description
    artifacts.update(who.client, artifact_id, body)
    return artifact_id


async def aupdate_progress_artifact(
    artifact_id: uuid.UUID, progress: float, description: str | None = None
) -> uuid.UUID:
    return await asyncio.to_thread(_update_progress, artifact_id, progress, description)


@async_dispatch(aupdate_progress_artifact)
def update_progress_artifact(
    artifact_id: uuid.UUID, progress: float, description: str | None = None
) -> uuid.UUID:
    """Move a progress artifact to `progress` percent (the dashboard's bar follows live)."""
    return _update_progress(artifact_id, progress, description)


# -- image ---------------------------------------------------------------------------------------


async def acreate_image_artifact(
    image_url: str, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    return await asyncio.to_thread(_store, "image", image_url, key, description)


@async_dispatch(acreate_image_artifact)
def create_image_artifact(
    image_url: str, key: str | None = None, description: str | None = None
) -> uuid.UUID:
    """Publish an image by its http(s) URL (the dashboard shows it)."""
    return _store("image", image_url, key, description)
