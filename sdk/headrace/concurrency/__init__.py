"""Concurrency limits, at Prefect's paths.

- `headrace.concurrency.sync` and `headrace.concurrency.asyncio`: `concurrency(...)` and
  `rate_limit(...)` on global concurrency limits (named limits any code takes slots of).
- `headrace.concurrency.tags`: tag limits, whose slots the engine takes for task runs
  (re-exported here, where they lived before this became a package).
"""

from headrace.concurrency.tags import HeldSlots, acquire_slots

__all__ = ["HeldSlots", "acquire_slots"]
