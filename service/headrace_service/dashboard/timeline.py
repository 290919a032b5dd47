"""Lay out a flow run's task runs as a Gantt chart: bars on a time axis, dependency edges.

Pure geometry (no SQL, no markup): the template draws what this computes, and tests can check
the layout without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

WIDTH = 1000.0  # SVG user units; the SVG scales to the page width
LABEL_WIDTH = 220.0
ROW_HEIGHT = 22.0
BAR_HEIGHT = 14.0
AXIS_HEIGHT = 22.0
MIN_BAR = 3.0  # even an instant task stays visible and clickable
MAX_ROWS = 400  # beyond this the chart stops being readable; the table still lists all


@dataclass(frozen=True)
class Bar:
    id: str
    name: str
    state_type: str
    state_name: str
    x: float
    y: float
    width: float
    title: str


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def path(self) -> str:
        """A smooth S-curve from the end of the upstream bar to the start of the downstream."""
        bend = max(12.0, abs(self.x2 - self.x1) / 2)
        return (
            f"M{self.x1:.1f},{self.y1:.1f} C{self.x1 + bend:.1f},{self.y1:.1f} "
            f"{self.x2 - bend:.1f},{self.y2:.1f} {self.x2:.1f},{self.y2:.1f}"
        )


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    edges: list[Edge]
    ticks: list[Tick]
    height: float
    hidden: int  # task runs left out beyond MAX_ROWS


def _span(task: Any, now: datetime) -> tuple[datetime, datetime]:
    start = task["start_time"] or task["created"]
    end = task["end_time"] or (now if task["state_type"] in ("RUNNING", "PENDING") else start)
    return start, max(start, end)


def layout(tasks: Sequence[Any], now: datetime) -> Timeline:
    shown = list(tasks[:MAX_ROWS])
    if not shown:
        return Timeline([], [], [], AXIS_HEIGHT, 0)
    spans = [_span(t, now) for t in shown]
    origin = min(s for s, _ in spans)
    total = max((e - origin).total_seconds() for _, e in spans) or 1.0
    scale = (WIDTH - LABEL_WIDTH - 10) / total

    bars: list[Bar] = []
    for row, (task, (start, end)) in enumerate(zip(shown, spans, strict=True)):
        seconds = (end - start).total_seconds()
        bars.append(
            Bar(
                id=str(task["id"]),
                name=task["name"],
                state_type=task["state_type"].lower(),
                state_name=task["state_name"],
                x=LABEL_WIDTH + (start - origin).total_seconds() * scale,
                y=AXIS_HEIGHT + row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                width=max(MIN_BAR, seconds * scale),
                title=f"{task['name']}: {task['state_name']}, {seconds:.3f} s",
            )
        )
    by_id = {bar.id: bar for bar in bars}
    edges = []
    for bar, task in zip(bars, shown, strict=True):
        for upstream_id in _upstream_ids(task["task_inputs"]):
            upstream = by_id.get(upstream_id)
            if upstream is not None:
                mid = BAR_HEIGHT / 2
                edges.append(
                    Edge(upstream.x + upstream.width, upstream.y + mid, bar.x, bar.y + mid)
                )
    ticks = [
        Tick(LABEL_WIDTH + i * (WIDTH - LABEL_WIDTH - 10) / 4, _seconds_label(total * i / 4))
        for i in range(5)
    ]
    height = AXIS_HEIGHT + len(bars) * ROW_HEIGHT + 4
    return Timeline(bars, edges, ticks, height, len(tasks) - len(shown))


def _upstream_ids(task_inputs: Any) -> list[str]:
    """{"param": [{"id": ...}, ...]} as recorded from futures passed to the task."""
    if not isinstance(task_inputs, dict):
        return []
    return [
        str(ref["id"])
        for refs in task_inputs.values()
        if isinstance(refs, list)
        for ref in refs
        if isinstance(ref, dict) and "id" in ref
    ]


def _seconds_label(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}m"
