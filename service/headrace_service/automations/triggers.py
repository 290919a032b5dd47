"""What an event trigger makes of one event: pure functions over a bucket (no database).

A bucket is the count of one trigger for one `for_each` value (one flow run, one deployment...).
Reactive: the first counted event opens it; it fires when `threshold` events arrived before
`within` seconds passed since it opened, and then starts over. Proactive: an `after` event (or
the automation itself, without `after`) opens it; each expected event counts; when `within`
seconds pass and the count is still under `threshold`, it fires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from headrace.schemas.automations import EventTrigger


@dataclass(frozen=True)
class EventView:
    """The parts of a stored event that triggers look at."""

    seq: int
    id: str
    event: str
    occurred: datetime
    resource: Mapping[str, str]
    related: Sequence[Mapping[str, str]]
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Bucket:
    key: str
    opened: datetime
    count: int = 0
    # The event that opened it (proactive: `after`), the context of the actions' templates.
    opener: dict[str, Any] | None = None


@dataclass(frozen=True)
class Step:
    """What one event did to a bucket: its new value (None: gone) and whether it fired."""

    bucket: Bucket | None
    fired: bool = False


def name_matches(name: str, patterns: Sequence[str]) -> bool:
    """`headrace.flow-run.*` matches by prefix, `*` everything, anything else exactly."""
    for pattern in patterns:
        if pattern.endswith("*"):
            if name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def value_matches(value: str | None, wanted: str | Sequence[str]) -> bool:
    """Whether a label's value is one of `wanted` (wildcards), and none of its `!negations`."""
    patterns = [wanted] if isinstance(wanted, str) else list(wanted)
    negative = [p[1:] for p in patterns if p.startswith("!")]
    positive = [p for p in patterns if not p.startswith("!")]
    if value is None:
        return not positive
    if negative and name_matches(value, negative):
        return False
    return not positive or name_matches(value, positive)


def labels_match(labels: Mapping[str, str], match: Mapping[str, str | Sequence[str]]) -> bool:
    return all(value_matches(labels.get(key), wanted) for key, wanted in match.items())


def event_matches(trigger: EventTrigger, event: EventView) -> bool:
    """The event is about a resource the trigger watches, and is an `after` or an `expect`."""
    if not labels_match(event.resource, trigger.match):
        return False
    if trigger.match_related and not any(
        labels_match(r, trigger.match_related) for r in event.related
    ):
        return False
    return is_after(trigger, event) or is_expected(trigger, event)


def is_after(trigger: EventTrigger, event: EventView) -> bool:
    return bool(trigger.after) and name_matches(event.event, trigger.after)


def is_expected(trigger: EventTrigger, event: EventView) -> bool:
    return not trigger.expect or name_matches(event.event, trigger.expect)


def bucket_key(trigger: EventTrigger, event: EventView) -> str:
    """One bucket per value of the `for_each` labels ("" without them)."""
    if not trigger.for_each:
        return ""
    return json.dumps([event.resource.get(label) for label in trigger.for_each])


def event_context(event: EventView) -> dict[str, Any]:
    """The event as the actions' templates see it."""
    return {
        "id": event.id,
        "seq": event.seq,
        "event": event.event,
        "occurred": event.occurred.isoformat(),
        "resource": dict(event.resource),
        "related": [dict(r) for r in event.related],
        "payload": dict(event.payload),
    }


def _expired(trigger: EventTrigger, bucket: Bucket, at: datetime) -> bool:
    return trigger.within > 0 and at > bucket.opened + timedelta(seconds=trigger.within)


def reactive_step(trigger: EventTrigger, bucket: Bucket | None, event: EventView) -> Step:
    """Count a matching event; fire at the threshold (the bucket then starts over). With
    `after`, counting starts at an `after` event and lasts `within` seconds (0: until it fires)."""
    key = bucket_key(trigger, event)
    if bucket is not None and _expired(trigger, bucket, event.occurred):
        bucket = None
    if trigger.after and bucket is None:
        if is_after(trigger, event):
            return Step(Bucket(key, event.occurred, 0, event_context(event)))
        return Step(None)
    if not is_expected(trigger, event):
        return Step(bucket)
    if bucket is None:
        bucket = Bucket(key, event.occurred)
    bucket = replace(bucket, count=bucket.count + 1)
    if bucket.count >= trigger.threshold:
        return Step(None, fired=True)
    return Step(bucket)


def proactive_step(trigger: EventTrigger, bucket: Bucket | None, event: EventView) -> Step:
    """An `after` event opens the window; an expected one counts, and once enough arrived the
    window closes without firing."""
    if is_after(trigger, event) and bucket is None:
        bucket = Bucket(bucket_key(trigger, event), event.occurred, 0, event_context(event))
        if not is_expected(trigger, event):
            return Step(bucket)
    if bucket is None or not is_expected(trigger, event):
        return Step(bucket)
    counted = replace(bucket, count=bucket.count + 1)
    return Step(None if counted.count >= trigger.threshold else counted)


def proactive_due(trigger: EventTrigger, bucket: Bucket, now: datetime) -> bool:
    """The window is over and the count stayed under the threshold: fire."""
    return bucket.count < trigger.threshold and _expired(trigger, bucket, now)


def step(trigger: EventTrigger, bucket: Bucket | None, event: EventView) -> Step:
    if trigger.posture == "Proactive":
        return proactive_step(trigger, bucket, event)
    return reactive_step(trigger, bucket, event)
