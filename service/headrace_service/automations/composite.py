"""What a compound or a sequence trigger makes of the firings of its event triggers: pure
functions over the composite's state (no database).

The state keeps each event trigger's latest firing: when, and its place in the order of
firings (a tick). One event (or one proactive window) that fires two of the triggers fires them
at the same tick: for a sequence it is one moment, not "the first, then the second". Firings
older than `within` (counted back from the newest) are forgotten. A compound trigger fires once
enough of its triggers fired; a sequence once all did and their latest firings are in the
list's order (Prefect's rule: A, B, A, C does not fire A-B-C, since A's latest firing is after
B's; a later B, then C, does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from headrace.schemas.automations import CompoundTrigger, SequenceTrigger


def part_prefix(index: int) -> str:
    """The prefix of the bucket keys of a composite's event trigger number `index`."""
    return f"{index}|"


@dataclass(frozen=True)
class ChildFiring:
    at: datetime
    tick: int


@dataclass(frozen=True)
class CompositeState:
    fired: dict[str, ChildFiring] = field(default_factory=dict)  # by part prefix
    tick: int = 0
    source: str = ""  # what made the latest firing (an event, a window)

    @staticmethod
    def load(stored: dict[str, Any] | None) -> CompositeState:
        """From the bucket's JSON (a compound trigger's state from before ticks has none: a
        compound trigger needs no order)."""
        stored = stored or {}
        ticks: dict[str, int] = stored.get("ticks", {})
        fired = {
            prefix: ChildFiring(datetime.fromisoformat(at), int(ticks.get(prefix, 0)))
            for prefix, at in stored.get("fired", {}).items()
        }
        return CompositeState(fired, int(stored.get("tick", 0)), str(stored.get("source", "")))

    def dump(self) -> dict[str, Any]:
        return {
            "fired": {p: f.at.isoformat() for p, f in self.fired.items()},
            "ticks": {p: f.tick for p, f in self.fired.items()},
            "tick": self.tick,
            "source": self.source,
        }

    def opened(self) -> datetime:
        return min(f.at for f in self.fired.values())


def composite_step(
    trigger: CompoundTrigger | SequenceTrigger,
    state: CompositeState,
    prefix: str,
    at: datetime,
    source: str,
) -> tuple[CompositeState | None, bool]:
    """The event trigger `prefix` fired at `at` (because of `source`): the composite's new state
    (None once it fired: it starts over) and whether it fires."""
    tick = state.tick if source == state.source else state.tick + 1
    fired = {**state.fired, prefix: ChildFiring(at, tick)}
    if trigger.within > 0:
        horizon = at - timedelta(seconds=trigger.within)
        fired = {p: f for p, f in fired.items() if f.at >= horizon}
    if _ready(trigger, fired):
        return None, True
    return CompositeState(fired, tick, source), False


def _ready(trigger: CompoundTrigger | SequenceTrigger, fired: dict[str, ChildFiring]) -> bool:
    count = len(trigger.triggers)
    if isinstance(trigger, CompoundTrigger):
        return len(fired) >= (count if trigger.require == "all" else 1)
    if len(fired) < count:
        return False
    ticks = [fired[part_prefix(i)].tick for i in range(count)]
    return all(earlier < later for earlier, later in pairwise(ticks))
