"""Trigger matching and counting: the pure functions the evaluator applies to each event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from headrace.schemas.automations import CompoundTrigger, EventTrigger, SequenceTrigger
from headrace_service.automations.composite import CompositeState, composite_step, part_prefix
from headrace_service.automations.evaluator import advance
from headrace_service.automations.templates import TemplateFailed, render, syntax_problem
from headrace_service.automations.triggers import (
    Bucket,
    EventView,
    event_matches,
    labels_match,
    name_matches,
    proactive_due,
    step,
)

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def event(name: str, at: float = 0, seq: int = 1, **labels: str) -> EventView:
    resource = {"headrace.resource.id": "r1", **{k.replace("_", "."): v for k, v in labels.items()}}
    return EventView(seq, f"e{seq}", name, T0 + timedelta(seconds=at), resource, [], {})


def run(trigger: EventTrigger, events: list[EventView]) -> list[int]:
    """The seqs of the events at which the trigger fired (one bucket, as the evaluator keeps)."""
    bucket: Bucket | None = None
    fired = []
    for e in events:
        if not event_matches(trigger, e):
            continue
        result = step(trigger, bucket, e)
        bucket = result.bucket
        if result.fired:
            fired.append(e.seq)
    return fired


def test_names_match_exactly_or_by_trailing_wildcard() -> None:
    assert name_matches("headrace.flow-run.Failed", ["headrace.flow-run.*"])
    assert name_matches("anything", ["*"])
    assert not name_matches("headrace.flow-run.Failed", ["headrace.flow-run.Fail"])
    assert not name_matches("headrace.task-run.Failed", ["headrace.flow-run.*"])


def test_labels_match_values_wildcards_and_negations() -> None:
    labels = {"region": "eu-west", "env": "prod"}
    assert labels_match(labels, {"region": "eu-*"})
    assert labels_match(labels, {"region": ["us-*", "eu-west"], "env": "!test"})
    assert not labels_match(labels, {"region": ["eu-*", "!eu-west"]})
    assert not labels_match(labels, {"team": "data"})  # a label it does not have
    assert labels_match(labels, {"team": "!data"})  # ...is not `data`


def test_reactive_threshold_within_a_window() -> None:
    trigger = EventTrigger(expect=["x"], threshold=3, within=10)
    # 3 events in 10 s fire; the count then starts over.
    assert run(trigger, [event("x", 0, 1), event("x", 5, 2), event("x", 9, 3)]) == [3]
    # The window passes before the third: a new window starts at the third.
    late = [event("x", 0, 1), event("x", 5, 2), event("x", 11, 3), event("x", 12, 4)]
    assert run(trigger, late) == []
    assert run(trigger, [*late, event("x", 13, 5)]) == [5]


def test_reactive_with_after_counts_only_after_it() -> None:
    trigger = EventTrigger(after=["start"], expect=["x"])
    assert run(trigger, [event("x", 0, 1), event("start", 1, 2), event("x", 2, 3)]) == [3]
    assert run(trigger, [event("x", 0, 1), event("other", 1, 2)]) == []


def test_proactive_fires_only_when_the_expected_event_is_missing() -> None:
    trigger = EventTrigger(posture="Proactive", after=["Running"], expect=["Completed"], within=60)
    opened = step(trigger, None, event("Running", 0, 1)).bucket
    assert opened is not None and opened.opener is not None
    assert not proactive_due(trigger, opened, T0 + timedelta(seconds=59))
    assert proactive_due(trigger, opened, T0 + timedelta(seconds=61))
    # The run completed in time: the window closes without firing.
    assert step(trigger, opened, event("Completed", 30, 2)).bucket is None


def test_match_filters_which_resources_count() -> None:
    trigger = EventTrigger(expect=["x"], match={"headrace.resource.id": "r2"})
    assert not event_matches(trigger, event("x"))
    assert event_matches(EventTrigger(expect=["x"], match={"team": "a*"}), event("x", team="ab"))


def test_the_cursor_stops_at_a_gap_until_it_is_settled() -> None:
    assert advance(2, {3, 5}, set()) == 3  # 4 may still commit
    assert advance(2, {3, 5}, {4}) == 5  # 4's transaction ended without it
    assert advance(2, {3, 4, 5}, set()) == 5
    assert advance(2, {5}, {3, 4, 6}) == 6  # a settled gap at the end too


def test_templates_render_in_a_sandbox() -> None:
    assert render("{{ event.event }}!", {"event": {"event": "x"}}) == "x!"
    assert syntax_problem("{{ oops") is not None
    for hostile in ("{{ ''.__class__.__mro__ }}", "{{ 1 / 0 }}"):
        try:
            render(hostile, {})
        except TemplateFailed as error:
            assert "template error" in str(error)
        else:
            raise AssertionError(f"{hostile} rendered")


def test_templates_are_bounded_in_work() -> None:
    hostile = [
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
        '{{ "x" * 10**9 }}',
        "{{ [1] * 100000000 }}",
        "{{ 2 ** 100000000 }}",
    ]
    for source in hostile:
        try:
            render(source, {})
        except TemplateFailed as error:
            assert "template error" in str(error)
        else:
            raise AssertionError(f"{source} rendered")
    assert render("{% for i in range(3) %}{{ i * 2 }}{% endfor %} {{ 'ab' * 2 }}", {}) == "024 abab"


def sequence_fires(
    trigger: SequenceTrigger | CompoundTrigger, firings: list[tuple[int, float, str]]
) -> list[int]:
    """Feed (trigger index, seconds, source) firings of the event triggers to the composite;
    the positions at which it fired."""
    state = CompositeState()
    fired = []
    for position, (index, at, source) in enumerate(firings):
        following, ready = composite_step(
            trigger, state, part_prefix(index), T0 + timedelta(seconds=at), source
        )
        state = following or CompositeState()
        if ready:
            fired.append(position)
    return fired


def test_a_sequence_fires_when_its_triggers_fire_in_order() -> None:
    abc = SequenceTrigger(triggers=[EventTrigger(expect=[n]) for n in "abc"])
    assert sequence_fires(abc, [(0, 0, "e1"), (1, 1, "e2"), (2, 2, "e3")]) == [2]
    # Out of order: c before b. A later b then c completes it.
    assert sequence_fires(abc, [(0, 0, "e1"), (2, 1, "e2"), (1, 2, "e3")]) == []
    assert sequence_fires(abc, [(0, 0, "e1"), (2, 1, "e2"), (1, 2, "e3"), (2, 3, "e4")]) == [3]
    # Each trigger's latest firing counts: a second a after b spoils the order (Prefect's rule).
    assert sequence_fires(abc, [(0, 0, "e1"), (1, 1, "e2"), (0, 2, "e3"), (2, 3, "e4")]) == []
    # One event that fires two of the triggers is one moment, not "a, then b".
    ab = SequenceTrigger(triggers=[EventTrigger(expect=["*"]), EventTrigger(expect=["*"])])
    assert sequence_fires(ab, [(0, 0, "e1"), (1, 0, "e1")]) == []
    assert sequence_fires(ab, [(0, 0, "e1"), (1, 0, "e1"), (1, 1, "e2")]) == [2]
    # It starts over after firing.
    assert sequence_fires(abc, [(0, 0, "e1"), (1, 1, "e2"), (2, 2, "e3"), (2, 3, "e4")]) == [2]


def test_a_sequence_forgets_firings_older_than_within() -> None:
    ab = SequenceTrigger(
        triggers=[EventTrigger(expect=["a"]), EventTrigger(expect=["b"])], within=60
    )
    assert sequence_fires(ab, [(0, 0, "e1"), (1, 59, "e2")]) == [1]
    assert sequence_fires(ab, [(0, 0, "e1"), (1, 61, "e2")]) == []
    assert sequence_fires(ab, [(0, 0, "e1"), (1, 61, "e2"), (0, 62, "e3"), (1, 63, "e4")]) == [3]


def test_a_compound_trigger_fires_in_any_order() -> None:
    both = CompoundTrigger(triggers=[EventTrigger(expect=["a"]), EventTrigger(expect=["b"])])
    assert sequence_fires(both, [(1, 0, "e1"), (0, 1, "e2")]) == [1]
    one = CompoundTrigger(require="any", triggers=both.triggers)
    assert sequence_fires(one, [(1, 0, "e1"), (0, 1, "e2")]) == [0, 1]
