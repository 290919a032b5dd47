"""`/event_feed`: write event batches, filter, count, stream."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pydantic import TypeAdapter

from headrace.schemas import events as schema

if TYPE_CHECKING:
    from headrace.client.transport import HeadraceClient

COUNTS = TypeAdapter(list[schema.EventCount])


def write(client: HeadraceClient, batch: schema.EventBatch) -> schema.EventsAccepted:
    return client.call("POST", "/event_feed", schema.EventsAccepted, batch)


def read_page(client: HeadraceClient, query: schema.EventQuery) -> schema.EventPage:
    return client.call("GET", "/event_feed", schema.EventPage, query=query)


def count(client: HeadraceClient, query: schema.EventFilter) -> list[schema.EventCount]:
    return client.call_list("GET", "/event_feed/count", COUNTS, query=query)


def stream(
    client: HeadraceClient,
    query: schema.EventStreamQuery,
    on_connected: Callable[[], None] | None = None,
) -> Iterator[schema.Event]:
    """Each new event matching `query`, as the server stores it, until the caller stops;
    `on_connected` is called once the server listens (what is stored after is seen)."""
    params = query.model_dump(mode="json", exclude_none=True)
    with client.stream_lines("/event_feed/stream", params=params) as lines:
        for line in lines:
            if line == ": connected" and on_connected is not None:
                on_connected()
            elif line.startswith("data: "):
                yield schema.Event.model_validate(json.loads(line[6:]))
