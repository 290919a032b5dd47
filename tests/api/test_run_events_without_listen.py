"""With LISTEN/NOTIFY off (behind a transaction-mode pooler) no event ever reaches the SSE
streams; live pages must still update: the stream tells them to re-read every fallback poll."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.api.test_run_events import sse

POLL_SECONDS = 0.5


@pytest.fixture
def server_settings_overrides() -> dict[str, object]:
    return {"listen_notify": False, "claim_fallback_poll_seconds": POLL_SECONDS}


def test_a_run_page_stream_says_reread_every_poll_interval(api_url: str) -> None:
    with sse(f"{api_url}/events?flow_run={uuid.uuid4()}") as frames:
        started = time.monotonic()
        rereads = []
        while len(rereads) < 3:
            name, _ = frames.get(timeout=POLL_SECONDS + 5)
            if name == "reread":
                rereads.append(time.monotonic() - started)
    # Three re-reads in about three poll intervals, not one per heartbeat (15 s).
    assert rereads[-1] < 3 * POLL_SECONDS + 3, rereads
