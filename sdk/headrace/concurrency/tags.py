"""Tag concurrency limits on the client: wait for slots, keep their leases alive, release them.
(`renewer` also keeps the leases of global concurrency slots: one thread per process.)

Slots are held in Postgres through the API, each with a lease. A holder renews its leases from a
background thread; if the process dies (even SIGKILL), its slots come back when the lease expires.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from headrace import states as st
from headrace.errors import HeadraceError
from headrace.signal_mask import leave_signals_to_main_thread
from headrace.states import State

if TYPE_CHECKING:
    from headrace.ports import Slots

LEASE_SECONDS = 30.0
# Waiting holders poll with a backoff between these bounds (with jitter, so they do not stampede).
MIN_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0

_logger = logging.getLogger("headrace.concurrency")


class HeldSlots:
    """The slots one task run holds; `release()` gives them back."""

    def __init__(self, slots: Slots, holder_id: uuid.UUID) -> None:
        self.slots = slots
        self.holder_id = holder_id

    def release(self) -> None:
        renewer.remove(self.holder_id)
        try:
            self.slots.release(self.holder_id)
        except HeadraceError as exc:
            # The lease expires on its own; until then the slot stays taken.
            _logger.warning("could not release concurrency slots (%s); the lease will expire", exc)


def acquire_slots(
    slots: Slots,
    tags: list[str],
    holder_id: uuid.UUID,
    on_wait: Callable[[State[Any]], Any],
    lease_seconds: float | None = None,
) -> HeldSlots | None:
    """Block until a slot of every limited tag in `tags` is held (all at once, never a part:
    two runs each holding half would wait for each other forever)."""
    if lease_seconds is None:
        # Here: settings load pydantic-settings, which `import headrace` must not.
        from headrace.settings import client_settings

        lease_seconds = client_settings().concurrency_slot_lease_seconds
    delay = MIN_POLL_SECONDS
    waiting = False
    while True:
        try:
            if slots.acquire(tags, holder_id, lease_seconds):
                break
        except HeadraceError as exc:
            _logger.warning("cannot take concurrency slots (%s); running without the limit", exc)
            return None
        if not waiting:
            waiting = True
            on_wait(st.AwaitingConcurrencySlot(f"waiting for a concurrency slot of {tags}"))
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, MAX_POLL_SECONDS)
    renewer.add(slots, holder_id, lease_seconds)
    return HeldSlots(slots, holder_id)


class Renews(Protocol):
    """Where leases of held slots are renewed (tag limits' slots, global limits' slots)."""

    def renew(self, holder_ids: list[uuid.UUID], lease_seconds: float) -> None: ...


class LeaseRenewer:
    """One daemon thread that renews the leases of all slots held by this process."""

    def __init__(self) -> None:
        self._held: dict[uuid.UUID, tuple[Renews, float]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._waiting = LEASE_SECONDS  # how long the thread sleeps between renewals now

    def add(self, slots: Renews, holder_id: uuid.UUID, lease_seconds: float) -> None:
        with self._lock:
            self._held[holder_id] = (slots, lease_seconds)
            if lease_seconds / 3 < self._waiting:
                self._wake.set()  # a shorter lease than the thread sleeps: wake it up
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="headrace-lease-renewer", daemon=True
                )
                self._thread.start()

    def remove(self, holder_id: uuid.UUID) -> None:
        with self._lock:
            self._held.pop(holder_id, None)

    def holds(self, holder_id: uuid.UUID) -> bool:
        """Whether the holder's leases are still being renewed (not released)."""
        with self._lock:
            return holder_id in self._held

    def _run(self) -> None:
        leave_signals_to_main_thread()
        while True:
            with self._lock:
                shortest = min((lease for _, lease in self._held.values()), default=LEASE_SECONDS)
                self._waiting = shortest / 3
            # Renew at a third of the lease: two renewals may fail before a slot is lost.
            if self._wake.wait(self._waiting):
                self._wake.clear()
                continue  # woken by a shorter lease: sleep the shorter time from now
            with self._lock:
                held = list(self._held.items())
            for holder_id, (slots, lease) in held:
                try:
                    slots.renew([holder_id], lease)
                except HeadraceError as exc:
                    _logger.debug("lease renewal failed: %s", exc)


renewer = LeaseRenewer()
