"""docs/events.md works as written: its `refresh.py` and the "Try it" commands, run with bash
against a live server, store and show the event the page says."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_artifacts_variables_doc import try_it

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_try_it_runs_as_written(api_url: str, tmp_path: Path) -> None:
    done = try_it(DOC, "refresh.py", api_url, tmp_path)
    assert "warehouse.orders.refreshed" in done.stdout  # the table of `event ls`
    listed = json.loads(done.stdout[done.stdout.index("[\n") :])  # `event ls --json`
    assert [(e["event"], e["payload"]) for e in listed] == [
        ("warehouse.orders.refreshed", {"rows": 1200})
    ]
    assert listed[0]["related"][0]["headrace.resource.role"] == "flow-run"
