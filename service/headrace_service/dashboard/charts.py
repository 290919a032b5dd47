"""Server-rendered SVG charts: stacked bars of runs per state over time (no JS, no library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from headrace_service.models import STATE_TYPES

WIDTH = 1000.0
HEIGHT = 200.0
PAD_LEFT = 34.0
PAD_BOTTOM = 18.0


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    state: str
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class StackedBars:
    segments: list[Segment]
    x_labels: list[Label]
    y_labels: list[Label]
    totals: dict[str, int]
    width: float = WIDTH
    height: float = HEIGHT


def stacked_bars(
    counts: dict[int, dict[str, int]], buckets: int, start: datetime, bucket: timedelta
) -> StackedBars:
    peak = max((sum(c.values()) for c in counts.values()), default=0)
    top = _nice_ceiling(peak)
    plot_h = HEIGHT - PAD_BOTTOM - 4
    slot = (WIDTH - PAD_LEFT) / buckets
    segments: list[Segment] = []
    totals = dict.fromkeys(STATE_TYPES, 0)
    for index in range(buckets):
        y = HEIGHT - PAD_BOTTOM
        when = start + bucket * index
        for state in STATE_TYPES:  # a fixed order keeps colours stacked the same in every bar
            n = counts.get(index, {}).get(state, 0)
            if not n:
                continue
            totals[state] += n
            h = plot_h * n / top
            y -= h
            segments.append(
                Segment(
                    PAD_LEFT + index * slot + slot * 0.12,
                    y,
                    slot * 0.76,
                    h,
                    state.lower(),
                    f"{n} {state.lower()} · {when:%Y-%m-%d %H:%M} UTC",
                )
            )
    every = max(1, buckets // 6)
    x_labels = [
        Label(PAD_LEFT + (i + 0.5) * slot, HEIGHT - 4, _tick(start + bucket * i, bucket))
        for i in range(0, buckets, every)
    ]
    y_labels = [
        Label(PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - plot_h * f + 4, str(round(top * f)))
        for f in (0, 0.5, 1)
    ]
    return StackedBars(segments, x_labels, y_labels, {k: v for k, v in totals.items() if v})


def _nice_ceiling(value: int) -> int:
    """The axis top: the first of 1, 2, 5, 10, 20, 50, ... at or above the tallest bar."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def _tick(when: datetime, bucket: timedelta) -> str:
    return f"{when:%a %H:%M}" if bucket >= timedelta(hours=6) else f"{when:%H:%M}"
