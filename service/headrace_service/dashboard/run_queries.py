"""Reads behind the flow-runs pages: filtered listings with keyset pagination.

Keyset, not OFFSET: a page is `(created, id) < cursor ORDER BY created DESC, id DESC LIMIT n`,
which walks ix_flow_run_created (or the per-flow/state/deployment index) from the cursor, so
page 2,000 of 100,000 runs costs what page 1 does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from headrace_service.models import STATE_TYPES
from headrace_service.store.flow_runs import RUN_SELECT

PAGE_SIZE = 50
TIME_RANGES = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}


class BadFilter(ValueError):
    """A filter the user typed cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Cursor:
    created: datetime
    id: uuid.UUID

    def encode(self) -> str:
        return f"{self.created.isoformat()}_{self.id}"

    @classmethod
    def decode(cls, value: str, name: str) -> Cursor:
        try:
            created, _, run_id = value.rpartition("_")
            return cls(datetime.fromisoformat(created), uuid.UUID(run_id))
        except ValueError:
            raise BadFilter(f"{name}: not a page cursor; follow the page links") from None


@dataclass(frozen=True)
class RunFilter:
    flow: str | None = None
    deployment_id: uuid.UUID | None = None
    states: tuple[str, ...] = ()
    tag: str | None = None
    since: str | None = None  # a key of TIME_RANGES
    parent_flow_run_id: uuid.UUID | None = None
    ids: tuple[uuid.UUID, ...] = field(default=())

    @classmethod
    def from_query(cls, query: Any) -> RunFilter:
        """Built from the page's query string; raises BadFilter with what to fix."""
        states = tuple(s.strip().upper() for s in query.getlist("state") if s.strip())
        unknown = [s for s in states if s not in STATE_TYPES]
        if unknown:
            raise BadFilter(f"state: unknown {', '.join(unknown)}; known: {', '.join(STATE_TYPES)}")
        since = query.get("since") or None
        if since is not None and since not in TIME_RANGES:
            raise BadFilter(f"since: use one of {', '.join(TIME_RANGES)}")
        return cls(
            flow=query.get("flow") or None,
            deployment_id=_uuid_or_none(query.get("deployment"), "deployment"),
            states=states,
            tag=query.get("tag") or None,
            since=since,
            ids=tuple(_uuid(v, "id") for v in query.getlist("id")),
        )

    def query_args(self) -> list[tuple[str, str]]:
        """The filter as query-string pairs, for page links and live-row requests."""
        args: list[tuple[str, str]] = []
        if self.flow:
            args.append(("flow", self.flow))
        if self.deployment_id:
            args.append(("deployment", str(self.deployment_id)))
        args.extend(("state", s) for s in self.states)
        if self.tag:
            args.append(("tag", self.tag))
        if self.since:
            args.append(("since", self.since))
        return args


def _uuid(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise BadFilter(f"{name}: {value!r} is not an id") from None


def _uuid_or_none(value: str | None, name: str) -> uuid.UUID | None:
    return _uuid(value, name) if value else None


def _where(flt: RunFilter, now: datetime | None) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if flt.flow:
        # On flow_id, not the joined name, so ix_flow_run_flow_created can serve it.
        where.append("fr.flow_id = (SELECT id FROM flow WHERE name = :flow)")
        params["flow"] = flt.flow
    if flt.deployment_id:
        where.append("fr.deployment_id = :deployment_id")
        params["deployment_id"] = flt.deployment_id
    if flt.states:
        where.append("fr.state_type = ANY(CAST(:states AS state_type[]))")
        params["states"] = list(flt.states)
    if flt.tag:
        where.append("fr.tags @> ARRAY[CAST(:tag AS text)]")
        params["tag"] = flt.tag
    if flt.since:
        where.append("fr.created >= :since")
        params["since"] = (now or datetime.now(UTC)) - TIME_RANGES[flt.since]
    if flt.parent_flow_run_id:
        where.append(
            "fr.parent_task_run_id IN (SELECT id FROM task_run WHERE flow_run_id = :parent)"
        )
        params["parent"] = flt.parent_flow_run_id
    if flt.ids:
        where.append("fr.id = ANY(:ids)")
        params["ids"] = list(flt.ids)
    return where, params


@dataclass
class RunPage:
    runs: list[RowMapping]
    older: Cursor | None  # cursor of the next (older) page, if any
    newer: Cursor | None  # cursor of the previous (newer) page, if any


async def run_page(
    conn: AsyncConnection,
    flt: RunFilter,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> RunPage:
    """One page, newest first; `before` pages to older runs, `after` back to newer ones."""
    where, params = _where(flt, now)
    ascending = after is not None and before is None
    cursor = after if ascending else before
    if cursor is not None:
        where.append(f"(fr.created, fr.id) {'>' if ascending else '<'} (:c_created, :c_id)")
        params.update(c_created=cursor.created, c_id=cursor.id)
    order = "ASC" if ascending else "DESC"
    sql = RUN_SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += f" ORDER BY fr.created {order}, fr.id {order} LIMIT :limit"
    params["limit"] = limit + 1
    rows = list((await conn.execute(text(sql), params)).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    if ascending:
        rows.reverse()
    first = Cursor(rows[0]["created"], rows[0]["id"]) if rows else None
    last = Cursor(rows[-1]["created"], rows[-1]["id"]) if rows else None
    if ascending:
        return RunPage(rows, older=last, newer=first if more else None)
    return RunPage(rows, older=last if more else None, newer=first if cursor else None)


async def flow_names(conn: AsyncConnection) -> list[str]:
    return list(
        (await conn.execute(text("SELECT name FROM flow ORDER BY name LIMIT 500"))).scalars()
    )


async def deployment_choices(conn: AsyncConnection) -> list[RowMapping]:
    return list(
        (
            await conn.execute(
                text(
                    "SELECT d.id, f.name || '/' || d.name AS label FROM deployment d "
                    "JOIN flow f ON f.id = d.flow_id ORDER BY label LIMIT 500"
                )
            )
        ).mappings()
    )
