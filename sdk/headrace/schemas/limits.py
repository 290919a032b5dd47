"""Limits that both sides of the API must agree on, without pydantic (the reporter reads them in
processes that never load it)."""

from __future__ import annotations

# The API's default request body cap (the server's `max_body_bytes`): clients size their
# batches under it, and any body it accepts can carry a run's parameters.
MAX_BODY_BYTES = 1024 * 1024
