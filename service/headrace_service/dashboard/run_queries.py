"""Reads behind the flow-runs pages: filtered listings, sortable, with keyset pagination.

Keyset, not OFFSET: a page is `(key, id) < cursor ORDER BY key DESC, id DESC LIMIT n`, which
walks the `(key, id)` index from the cursor (ix_flow_run_created, ix_flow_run_start_time,
ix_flow_run_end_time, ix_flow_run_name), so page 2,000 of 100,000 runs costs what page 1 does.
The id breaks ties, so runs with equal keys are neither repeated nor skipped across pages.

Start and end times are NULL until a run starts or ends. Those runs come last in either
direction: a page first reads the runs that have the key, then, if it is not full, the runs
without it in id order. Each of the two reads is an index range scan (a btree finds `key IS
NULL` too); a row comparison alone would drop NULLs.
"""

from __future__ import annotations

import base64
import binascii
import json
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
class SortKey:
    column: str  # a column of flow_run, indexed together with id
    label: str
    nullable: bool
    text: bool = False  # compared as text, else a timestamp


SORT_KEYS = {
    "created": SortKey("created", "Created", nullable=False),
    "started": SortKey("start_time", "Started", nullable=True),
    "ended": SortKey("end_time", "Ended", nullable=True),
    "name": SortKey("name", "Run", nullable=False, text=True),
}
DEFAULT_SORT = "-created"


def parse_sort(value: str | None) -> tuple[str, bool]:
    """`created` (oldest first) or `-created` (newest first) into (key, descending)."""
    value = (value or DEFAULT_SORT).strip()
    name = value.removeprefix("-")
    if name not in SORT_KEYS:
        known = ", ".join(f"{k}, -{k}" for k in SORT_KEYS)
        raise BadFilter(f"sort: unknown {value!r}; use one of {known}")
    return name, value.startswith("-")


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the sort key's value of its last run (None: no value) and its id."""

    sort: str
    value: datetime | str | None
    id: uuid.UUID

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = json.dumps([self.sort, value, str(self.id)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, encoded: str, name: str, sort: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            key, value, run_id = json.loads(raw)
            if key != sort:
                raise ValueError(key)
            sort_key = SORT_KEYS[sort.removeprefix("-")]
            # A hand-made cursor must not reach SQL with a value of the wrong type (a 500).
            if value is None and not sort_key.nullable:
                raise ValueError(value)
            if value is not None and not isinstance(value, str):
                raise TypeError(value)
            if value is not None and not sort_key.text:
                value = datetime.fromisoformat(value)
            return cls(sort, value, uuid.UUID(run_id))
        except (ValueError, TypeError, KeyError, binascii.Error):
            raise BadFilter(
                f"{name}: not a page cursor of this sort order; follow the page links"
            ) from None


@dataclass(frozen=True)
class RunFilter:
    flow: str | None = None
    deployment_id: uuid.UUID | None = None
    states: tuple[str, ...] = ()
    tag: str | None = None
    since: str | None = None  # a key of TIME_RANGES
    parent_flow_run_id: uuid.UUID | None = None
    ids: tuple[uuid.UUID, ...] = field(default=())
    sort: str = DEFAULT_SORT  # not a filter, but travels with it in every page link

    @property
    def sort_key(self) -> SortKey:
        return SORT_KEYS[self.sort.removeprefix("-")]

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")

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
        key, descending = parse_sort(query.get("sort"))
        return cls(
            flow=query.get("flow") or None,
            deployment_id=_uuid_or_none(query.get("deployment"), "deployment"),
            states=states,
            tag=query.get("tag") or None,
            since=since,
            ids=tuple(_uuid(v, "id") for v in query.getlist("id")),
            sort=("-" if descending else "") + key,
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
        if self.sort != DEFAULT_SORT:
            args.append(("sort", self.sort))
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
    next: Cursor | None  # cursor of the following page, if any
    previous: Cursor | None  # cursor of the page before, if any


async def run_page(
    conn: AsyncConnection,
    flt: RunFilter,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
    now: datetime | None = None,
) -> RunPage:
    """One page in the filter's sort order; `before` pages on from a cursor, `after` back."""
    key = flt.sort_key
    backward = after is not None and before is None
    cursor = after if backward else before
    # The scan goes the display direction, or against it when paging back.
    descending = flt.descending != backward
    rows: list[RowMapping] = []
    for with_value in _segments(key, cursor, backward):
        rows += await _segment(
            conn, flt, key, with_value, cursor, descending, limit + 1 - len(rows), now
        )
        if len(rows) > limit:
            break
    more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    first = _cursor_of(flt, rows[0]) if rows else None
    last = _cursor_of(flt, rows[-1]) if rows else None
    if backward:
        return RunPage(rows, next=last, previous=first if more else None)
    return RunPage(rows, next=last if more else None, previous=first if cursor else None)


def _segments(key: SortKey, cursor: Cursor | None, backward: bool) -> list[bool]:
    """Which parts to read, in scan order: runs with a value of the key (True), then without
    (False) — reversed when paging back. A cursor among the runs without a value has every run
    with one before it."""
    if not key.nullable:
        return [True]
    if cursor is None:
        return [True, False]
    if cursor.value is None:
        return [False, True] if backward else [False]
    return [True] if backward else [True, False]


async def _segment(
    conn: AsyncConnection,
    flt: RunFilter,
    key: SortKey,
    with_value: bool,
    cursor: Cursor | None,
    descending: bool,
    limit: int,
    now: datetime | None,
) -> list[RowMapping]:
    where, params = _where(flt, now)
    column = f"fr.{key.column}"
    past = "<" if descending else ">"
    order = "DESC" if descending else "ASC"
    if key.nullable:
        where.append(f"{column} IS {'NOT ' if with_value else ''}NULL")
    # The cursor bounds only the part it lies in; the other part is read whole.
    if cursor is not None and (cursor.value is not None) == with_value:
        if with_value:
            where.append(f"({column}, fr.id) {past} (:c_value, :c_id)")
            params["c_value"] = cursor.value
        else:
            where.append(f"fr.id {past} :c_id")
        params["c_id"] = cursor.id
    sql = RUN_SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += f" ORDER BY {column} {order}, fr.id {order} LIMIT :limit"
    params["limit"] = limit
    return list((await conn.execute(text(sql), params)).mappings())


def _cursor_of(flt: RunFilter, row: RowMapping) -> Cursor:
    return Cursor(flt.sort, row[flt.sort_key.column], row["id"])


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
